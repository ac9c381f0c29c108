package outbox_test

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/internal/clocktest"
	"github.com/iot-hub/agent/internal/lograte"
	"github.com/iot-hub/agent/internal/syncbuf"
)

// linesOf returns the lines of logs with message msg.
func linesOf(logs, msg string) []string {
	var out []string
	for l := range strings.Lines(logs) {
		if strings.Contains(l, `msg="`+msg+`"`) {
			out = append(out, strings.TrimSpace(l))
		}
	}
	return out
}

// A full outbox drops telemetry at every append: Stats counts each drop,
// the log says so once a minute, then how many lines it suppressed.
func TestFullIsLoggedOnceAMinute(t *testing.T) {
	var logs syncbuf.Buffer
	clock := clocktest.New(clocktest.Start)
	s, _ := openStore(t, outbox.Config{Settings: outbox.Settings{MaxBytes: 1 << 20}, Clock: clock, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	const msg = "outbox: full; dropped the oldest telemetry"
	payload := strings.Repeat("x", 1000) // records of one size: each append drops one
	const n = 2000                       // about 2 MiB: twice the cap
	for i := range n {
		mustAppend(t, s, tel(fmt.Sprintf("%05d%s", i, payload)))
	}
	dropped := s.Stats().Dropped.Cap
	if lines := linesOf(logs.String(), msg); dropped < n/3 || len(lines) != 1 {
		t.Fatalf("%d records dropped: %d lines %q; want many dropped, one line", dropped, len(lines), lines)
	}
	clock.Advance(lograte.DefaultInterval)
	mustAppend(t, s, tel(fmt.Sprintf("%05d%s", n, payload)))
	lines := linesOf(logs.String(), msg)
	if len(lines) != 2 || !strings.HasSuffix(lines[1], fmt.Sprintf(" suppressed=%d", dropped-1)) {
		t.Errorf("a minute later: %q; want a second line, suppressed=%d: each drop but the first", lines, dropped-1)
	}
}

// The uplink quarantines what the broker refuses, record by record:
// Stats counts each one, the log says so once a minute.
func TestQuarantinesAreLoggedOnceAMinute(t *testing.T) {
	var logs syncbuf.Buffer
	clock := clocktest.New(clocktest.Start)
	s, _ := openStore(t, outbox.Config{Clock: clock, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	const msg = "outbox: record quarantined"
	const n = 300
	for i := range n + 1 {
		mustAppend(t, s, ctl(fmt.Sprint("refused ", i)))
	}
	for _, e := range next(t, s, n) {
		if err := s.Quarantine(e.ID, "broker: not authorized"); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the quarantines to be committed", func() bool { return s.Stats().Quarantined == n })
	if lines := linesOf(logs.String(), msg); len(lines) != 1 {
		t.Fatalf("%d records quarantined: %d lines %q; want 1", n, len(lines), lines)
	}
	clock.Advance(lograte.DefaultInterval)
	if err := s.Quarantine(next(t, s, 1)[0].ID, "broker: not authorized"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the last quarantine to be committed", func() bool { return s.Stats().Quarantined == n+1 })
	if lines := linesOf(logs.String(), msg); len(lines) != 2 || !strings.HasSuffix(lines[1], fmt.Sprintf(" suppressed=%d", n-1)) {
		t.Errorf("a minute later: %q; want a second line, suppressed=%d", lines, n-1)
	}
}
