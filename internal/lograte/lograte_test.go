package lograte

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iot-hub/agent/internal/clocktest"
)

func TestLimiter(t *testing.T) {
	type step struct {
		advance    time.Duration // before the call
		key        string
		ok         bool
		suppressed int
	}
	for _, tc := range []struct {
		name  string
		burst int
		steps []step
	}{
		{"one line a window, per key", 0, []step{
			{0, "malformed", true, 0},
			{0, "malformed", false, 0},
			{0, "too_large", true, 0}, // another key: its own window
			{time.Second, "malformed", false, 0},
			{58 * time.Second, "malformed", false, 0},
			{0, "too_large", false, 0},
			{time.Second, "malformed", true, 3}, // a minute after the first: the count of those suppressed
			{0, "too_large", true, 1},
			{0, "malformed", false, 0},
			{time.Minute, "malformed", true, 1},
			{time.Hour, "malformed", true, 0}, // nothing suppressed meanwhile
		}},
		{"burst", 3, []step{
			{0, "k", true, 0},
			{time.Second, "k", true, 0},
			{time.Second, "k", true, 0},
			{time.Second, "k", false, 0},
			{time.Second, "k", false, 0},
			{56 * time.Second, "k", true, 2}, // a minute after the window opened, with the first line
			{0, "k", true, 0},
			{0, "k", true, 0},
			{0, "k", false, 0},
		}},
		{"a clock that goes back opens a window", 0, []step{
			{0, "k", true, 0},
			{0, "k", false, 0},
			{-24 * time.Hour, "k", true, 1},
			{time.Second, "k", false, 0},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := clocktest.New(clocktest.Start)
			l := NewLimiter(Config{Burst: tc.burst, Clock: c})
			for i, s := range tc.steps {
				c.Advance(s.advance)
				n, ok := l.Allow(s.key)
				if ok != s.ok || n != s.suppressed {
					t.Errorf("step %d: Allow(%q) = %d, %t; want %d, %t", i, s.key, n, ok, s.suppressed, s.ok)
				}
			}
		})
	}
}

func TestLimiterReset(t *testing.T) {
	c := clocktest.New(clocktest.Start)
	l := NewLimiter(Config{Interval: time.Minute, Clock: c})
	l.Allow("s")
	l.Allow("s")
	l.Allow("s")
	if n := l.Reset("s"); n != 2 {
		t.Errorf("Reset(s) = %d; want the 2 suppressed", n)
	}
	if n, ok := l.Allow("s"); !ok || n != 0 {
		t.Errorf("Allow(s) after Reset = %d, %t; want 0, true: a new run", n, ok)
	}
	if n := l.Reset("never seen"); n != 0 {
		t.Errorf("Reset(never seen) = %d; want 0", n)
	}
}

// Lines allowed and suppressed from many goroutines add up: none is lost
// from the count.
func TestLimiterConcurrent(t *testing.T) {
	c := clocktest.New(clocktest.Start)
	l := NewLimiter(Config{Clock: c})
	const goroutines, each = 8, 1000
	var wg sync.WaitGroup
	var mu sync.Mutex
	written := 0
	for range goroutines {
		wg.Go(func() {
			for range each {
				if _, ok := l.Allow("k"); ok {
					mu.Lock()
					written++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	c.Advance(time.Minute)
	n, ok := l.Allow("k")
	if written != 1 || !ok || n != goroutines*each-1 {
		t.Errorf("%d written, then Allow = %d, %t; want 1 written, then %d suppressed", written, n, ok, goroutines*each-1)
	}
}

// textLogger returns a logger writing text lines without the time to buf.
func textLogger(buf *bytes.Buffer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
}

func TestLogger(t *testing.T) {
	var buf bytes.Buffer
	c := clocktest.New(clocktest.Start)
	l := New(textLogger(&buf, slog.LevelInfo), Config{Clock: c})
	for range 5000 {
		l.Warn("malformed", "rpc: dead letter", "reason", "malformed")
	}
	l.Error("full", "outbox: full")
	l.Log(t.Context(), slog.LevelDebug, "debug", "below the level") // neither written nor counted
	c.Advance(time.Minute)
	l.Warn("malformed", "rpc: dead letter", "reason", "malformed")
	l.Info("debug", "at the level now")
	want := strings.Join([]string{
		`level=WARN msg="rpc: dead letter" reason=malformed`,
		`level=ERROR msg="outbox: full"`,
		`level=WARN msg="rpc: dead letter" reason=malformed suppressed=4999`,
		`level=INFO msg="at the level now"`,
		``,
	}, "\n")
	if buf.String() != want {
		t.Errorf("log:\n%s\nwant:\n%s", buf.String(), want)
	}
}

func TestHandler(t *testing.T) {
	var buf bytes.Buffer
	c := clocktest.New(clocktest.Start)
	h := NewHandler(textLogger(&buf, slog.LevelInfo).Handler(), Config{Clock: c}, func(r slog.Record) string { return r.Message })
	log := slog.New(h)
	child := log.With("listener", "tcp") // shares the limits
	for i := range 10 {
		log.Warn("error processing packet", "client", i)
		child.Warn("error processing packet", "client", i)
		log.Warn("client store quota reached", "client", i)
	}
	c.Advance(time.Minute)
	child.Warn("error processing packet", "client", 10)
	want := strings.Join([]string{
		`level=WARN msg="error processing packet" client=0`,
		`level=WARN msg="client store quota reached" client=0`,
		`level=WARN msg="error processing packet" listener=tcp client=10 suppressed=19`,
		``,
	}, "\n")
	if buf.String() != want {
		t.Errorf("log:\n%s\nwant:\n%s", buf.String(), want)
	}
}
