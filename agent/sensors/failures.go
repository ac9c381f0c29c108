package sensors

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/internal/clock"
	"github.com/iot-hub/agent/internal/lograte"
)

// FailureLogInterval is how often a sensor that keeps failing with the
// same error is logged again.
const FailureLogInterval = time.Minute

// failureLines are the limits of the sensors' failure lines, keyed by
// sensor name, shared by a sampler's sensors.
type failureLines struct {
	runs    *lograte.Limiter // a line per FailureLogInterval
	changes *lograte.Limiter // an error that changed, logged at once: one per FailureLogInterval
}

func newFailureLines(clk clock.Clock) failureLines {
	cfg := lograte.Config{Interval: FailureLogInterval, Clock: clk}
	return failureLines{runs: lograte.NewLimiter(cfg), changes: lograte.NewLimiter(cfg)}
}

// failures rate-limits the log of one sensor's failures: the first of a
// run, again when the error changes or after FailureLogInterval, and the
// recovery. An error whose text changes at every read (it carries a
// count, a duration, a byte of the device's) is logged at once only once
// per FailureLogInterval, then as if it were the same.
type failures struct {
	log    *slog.Logger
	lines  failureLines
	sensor string
	last   string // the last error's text; "" when the sensor works
}

func (f *failures) failed(err error) {
	msg := err.Error()
	unlogged := 0 // failures since the last line, before this one
	if msg != f.last {
		f.last = msg
		if _, ok := f.lines.changes.Allow(f.sensor); ok {
			unlogged = f.lines.runs.Reset(f.sensor) // another error: a line at once
		}
	}
	suppressed, ok := f.lines.runs.Allow(f.sensor)
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
	f.lines.changes.Reset(f.sensor)
	f.log.Info("sensor recovered", "sensor", f.sensor, "failuresSinceLastLog", f.lines.runs.Reset(f.sensor))
	f.last = ""
}
