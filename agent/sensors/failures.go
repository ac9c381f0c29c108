package sensors

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/iot-hub/agent/agent/outbox"
)

// FailureLogInterval is how often a sensor that keeps failing with the
// same error is logged again.
const FailureLogInterval = time.Minute

// failures rate-limits the log of one sensor's failures: the first of a
// run, again when the error changes or after FailureLogInterval, and the
// recovery.
type failures struct {
	log      *slog.Logger
	sensor   string
	last     string    // the last error's text; "" when the sensor works
	n        int       // failures since the last line
	loggedAt time.Time // of the last line
}

func (f *failures) failed(err error, now time.Time) {
	msg := err.Error()
	f.n++
	if msg == f.last && now.Sub(f.loggedAt) < FailureLogInterval {
		return
	}
	level := slog.LevelWarn
	if errors.Is(err, outbox.ErrClosed) || errors.Is(err, outbox.ErrFull) || errors.Is(err, outbox.ErrTooLarge) {
		level = slog.LevelError
	}
	f.log.Log(context.Background(), level, "sensor failed", "sensor", f.sensor, "err", err, "failures", f.n)
	f.last, f.n, f.loggedAt = msg, 0, now
}

func (f *failures) succeeded() {
	if f.last == "" {
		return
	}
	f.log.Info("sensor recovered", "sensor", f.sensor, "failuresSinceLastLog", f.n)
	f.last, f.n = "", 0
}
