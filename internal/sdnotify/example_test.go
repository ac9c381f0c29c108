package sdnotify_test

import (
	"context"
	"log/slog"
	"time"

	"github.com/iot-hub/agent/internal/sdnotify"
)

// A daemon tells systemd it is ready once it serves, pings the watchdog
// from its main loop at half the interval, and says when it stops.
func Example() {
	ctx, stop := context.WithTimeout(context.Background(), time.Second)
	defer stop()
	log := slog.Default()

	// ... open everything; then:
	if err := sdnotify.Ready(); err != nil {
		log.Warn("sdnotify: ready", "err", err)
	}
	var ping <-chan time.Time
	if d, ok := sdnotify.WatchdogInterval(); ok {
		t := time.NewTicker(d / 2)
		defer t.Stop()
		ping = t.C
	}
	for {
		select {
		case <-ping:
			if err := sdnotify.Watchdog(); err != nil {
				log.Warn("sdnotify: watchdog", "err", err)
			}
		case <-ctx.Done():
			sdnotify.Stopping()
			return
		}
	}
}
