package sensors

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestFailuresRateLimit(t *testing.T) {
	var logs bytes.Buffer
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := t0
	f := failures{log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	})), lines: newFailureLines(func() time.Time { return now }), sensor: "s"}
	at := func(d time.Duration) { now = t0.Add(d) }
	unplugged, busy := errors.New("unplugged"), errors.New("busy")
	at(0)
	f.failed(unplugged) // logged
	at(FailureLogInterval / 2)
	f.failed(unplugged) // quiet
	at(FailureLogInterval + time.Second)
	f.failed(unplugged) // logged, with the count
	at(FailureLogInterval + 2*time.Second)
	f.failed(busy) // another error: logged
	at(FailureLogInterval + 3*time.Second)
	f.failed(busy) // quiet
	f.succeeded()  // logged
	f.succeeded()  // quiet
	at(FailureLogInterval + 4*time.Second)
	f.failed(busy) // a new run: logged
	want := strings.Join([]string{
		`level=WARN msg="sensor failed" sensor=s err=unplugged failures=1`,
		`level=WARN msg="sensor failed" sensor=s err=unplugged failures=2`,
		`level=WARN msg="sensor failed" sensor=s err=busy failures=1`,
		`level=INFO msg="sensor recovered" sensor=s failuresSinceLastLog=1`,
		`level=WARN msg="sensor failed" sensor=s err=busy failures=1`,
		``,
	}, "\n")
	if logs.String() != want {
		t.Errorf("log:\n%s\nwant:\n%s", logs.String(), want)
	}
}
