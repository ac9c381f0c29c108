package sensors

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/iot-hub/agent/internal/clocktest"
)

func TestFailuresRateLimit(t *testing.T) {
	var logs bytes.Buffer
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := clocktest.New(t0)
	f := failures{log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	})), lines: newFailureLines(clk), sensor: "s"}
	at := func(d time.Duration) { clk.Advance(t0.Add(d).Sub(clk.Now())) }
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

// An error whose text changes at every read (a serial line's skip
// counts, a Modbus frame's bytes) is logged at once only once a minute:
// garbage from a device, or reads on demand, do not flood the log.
func TestFailuresWithChangingTextRateLimit(t *testing.T) {
	var logs bytes.Buffer
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := clocktest.New(t0)
	f := failures{log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "err" {
				return slog.Attr{}
			}
			return a
		},
	})), lines: newFailureLines(clk), sensor: "s"}
	const n = 100
	for i := range n {
		clk.Advance(t0.Add(time.Duration(i) * FailureLogInterval / n).Sub(clk.Now()))
		f.failed(fmt.Errorf("no record (skipped %d lines)", i))
	}
	clk.Advance(t0.Add(FailureLogInterval).Sub(clk.Now()))
	f.failed(errors.New("no record (skipped 100 lines)"))
	want := strings.Join([]string{
		`level=WARN msg="sensor failed" sensor=s failures=1`,
		fmt.Sprintf(`level=WARN msg="sensor failed" sensor=s failures=%d`, n),
		``,
	}, "\n")
	if logs.String() != want {
		t.Errorf("log:\n%s\nwant:\n%s", logs.String(), want)
	}
}
