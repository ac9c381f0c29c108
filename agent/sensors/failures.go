package sensors

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/internal/lograte"
)

// FailureLogInterval is how often a sensor that keeps failing with the
// same error is logged again.
const FailureLogInterval = time.Minute

// newFailureLines returns the limiter of the sensors' failure lines, one
// key per sensor, on clock now.
func newFailureLines(now func() time.Time) *lograte.Limiter {
	return lograte.NewLimiter(lograte.Config{Interval: FailureLogInterval, Now: now})
}

// failures rate-limits the log of one sensor's failures: the first of a
// run, again when the error changes or after FailureLogInterval, and the
// recovery.
type failures struct {
	log    *slog.Logger
	lines  *lograte.Limiter // the sampler's, keyed by sensor name
	sensor string
	last   string // the last error's text; "" when the sensor works
}

func (f *failures) failed(err error) {
	msg := err.Error()
	unlogged := 0 // failures since the last line, before this one
	if msg != f.last {
		unlogged = f.lines.Reset(f.sensor) // another error: a line at once
		f.last = msg
	}
	suppressed, ok := f.lines.Allow(f.sensor)
	if !ok {
		return
	}
	level := slog.LevelWarn
	if errors.Is(err, outbox.ErrClosed) || errors.Is(err, outbox.ErrFull) || errors.Is(err, outbox.ErrTooLarge) {
		level = slog.LevelError
	}
	f.log.Log(context.Background(), level, "sensor failed", "sensor", f.sensor, "err", err, "failures", unlogged+suppressed+1)
}

func (f *failures) succeeded() {
	if f.last == "" {
		return
	}
	f.log.Info("sensor recovered", "sensor", f.sensor, "failuresSinceLastLog", f.lines.Reset(f.sensor))
	f.last = ""
}
