package health_test

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/iot-hub/agent/agent/health"
	"github.com/iot-hub/agent/agent/uplink"
	"github.com/iot-hub/agent/internal/clocktest"
	"github.com/iot-hub/agent/internal/lograte"
	"github.com/iot-hub/agent/internal/syncbuf"
)

// A request that goes wrong every time (here a source that panics, which
// net/http logs with its stack) writes a line a minute, not a line a
// request, however often it is scraped.
func TestRequestErrorsAreLoggedOnceAMinute(t *testing.T) {
	var logs syncbuf.Buffer
	clk := clocktest.New(start)
	base, _ := serve(t, health.Config{Settings: health.Settings{Listen: "127.0.0.1:0"}, Clock: clk, Logger: slog.New(slog.NewTextHandler(&logs, nil))},
		health.Sources{Uplink: func() uplink.State { panic("a bug in a source") }}, nil)
	scrape := func(n int) {
		t.Helper()
		for range n {
			resp, err := http.Get(base + "/healthz")
			if err == nil { // net/http closes the connection of a panicking handler: no answer
				resp.Body.Close()
				t.Fatalf("GET /healthz = %s; want no answer", resp.Status)
			}
		}
	}
	const n = 50
	scrape(n) // net/http logs each panic before it closes the connection
	if got := strings.Count(logs.String(), "a bug in a source"); got != 1 {
		t.Fatalf("%d requests: %d panic lines; want 1", n, got)
	}
	clk.Advance(lograte.DefaultInterval)
	scrape(1)
	if got := strings.Count(logs.String(), "a bug in a source"); got != 2 || !strings.Contains(logs.String(), "suppressed=49") {
		t.Errorf("a minute later: %d panic lines; want 2, the second with suppressed=49:\n%s", got, logs.String())
	}
}
