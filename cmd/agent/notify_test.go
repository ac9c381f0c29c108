package main

import (
	"log/slog"
	"testing"
	"testing/synctest"
	"time"

	"github.com/iot-hub/agent/internal/sdnotify"
)

// TestNotifierTicks: under systemd, the main loop's tick (a watchdog
// ping and a status refresh) fires at half of WatchdogSec, and at least
// every statusEvery; by synctest's clock, so that a busy machine does
// not change what is measured.
func TestNotifierTicks(t *testing.T) {
	for _, tt := range []struct {
		name     string
		usec     string // WATCHDOG_USEC; empty: no watchdog
		pings    bool
		interval time.Duration
	}{
		{"WatchdogSec=400ms", "400000", true, 200 * time.Millisecond},
		{"WatchdogSec=1min", "60000000", true, statusEvery},
		{"no watchdog", "", false, statusEvery},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(sdnotify.EnvSocket, "@iot-hub-agent-test-unused")
			t.Setenv(sdnotify.EnvWatchdogUsec, tt.usec)
			t.Setenv(sdnotify.EnvWatchdogPID, "")
			n := newNotifier(slog.New(slog.DiscardHandler), nil, nil)
			if pings := n.every > 0; pings != tt.pings {
				t.Errorf("WATCHDOG_USEC=%q: pings the watchdog %v; want %v", tt.usec, pings, tt.pings)
			}
			synctest.Test(t, func(t *testing.T) {
				ticks, stop := n.tick()
				defer stop()
				start := time.Now()
				for i := 1; i <= 5; i++ {
					at := <-ticks
					if got, want := at.Sub(start), time.Duration(i)*tt.interval; got != want {
						t.Fatalf("WATCHDOG_USEC=%q: tick %d at %v; want %v", tt.usec, i, got, want)
					}
				}
			})
		})
	}
}
