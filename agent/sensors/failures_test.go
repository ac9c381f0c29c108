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
	f := failures{log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	})), sensor: "s"}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	unplugged, busy := errors.New("unplugged"), errors.New("busy")
	f.failed(unplugged, t0)                                     // logged
	f.failed(unplugged, t0.Add(FailureLogInterval/2))           // quiet
	f.failed(unplugged, t0.Add(FailureLogInterval+time.Second)) // logged, with the count
	f.failed(busy, t0.Add(FailureLogInterval+2*time.Second))    // another error: logged
	f.failed(busy, t0.Add(FailureLogInterval+3*time.Second))    // quiet
	f.succeeded()                                               // logged
	f.succeeded()                                               // quiet
	want := strings.Join([]string{
		`level=WARN msg="sensor failed" sensor=s err=unplugged failures=1`,
		`level=WARN msg="sensor failed" sensor=s err=unplugged failures=2`,
		`level=WARN msg="sensor failed" sensor=s err=busy failures=1`,
		`level=INFO msg="sensor recovered" sensor=s failuresSinceLastLog=1`,
		``,
	}, "\n")
	if logs.String() != want {
		t.Errorf("log:\n%s\nwant:\n%s", logs.String(), want)
	}
}
