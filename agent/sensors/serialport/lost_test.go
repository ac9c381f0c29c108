package serialport_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/sensors/serialport"
	"github.com/iot-hub/agent/internal/clocktest"
	"github.com/iot-hub/agent/internal/ptytest"
)

// ping writes "ping" and waits for the device's "pong".
func ping(ctx context.Context, c serialport.Conn) error {
	if _, err := c.Write([]byte("ping")); err != nil {
		return err
	}
	if err := c.SetReadTimeout(5 * time.Second); err != nil {
		return err
	}
	buf := make([]byte, 4)
	got := 0
	for got < 4 {
		n, err := c.Read(buf[got:])
		if err != nil {
			return err
		}
		got += n
	}
	if string(buf) != "pong" {
		return errors.New("answer " + string(buf))
	}
	return nil
}

// ponger answers each "ping" read from dev with "pong", until dev closes.
func ponger(t *testing.T, dev *ptytest.Pair) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4)
		for {
			if _, err := io.ReadFull(dev, buf); err != nil {
				return
			}
			if _, err := dev.Write([]byte("pong")); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { dev.Close(); <-done })
}

func TestUnplugReplug(t *testing.T) {
	for _, op := range []string{"read", "write"} {
		t.Run(op, func(t *testing.T) {
			link := ptytest.NewLink(t)
			ponger(t, link.Pair())
			clk := clocktest.New(clocktest.Start)
			p, logs := newPort(t, serialport.Config{Path: link.Path()})
			serialport.SetClock(p, clk, doubling)
			if err := p.Do(t.Context(), ping); err != nil {
				t.Fatalf("Do = %v", err)
			}
			first := link.Pair().Path()

			// The adapter is pulled mid-transaction.
			err := p.Do(t.Context(), func(ctx context.Context, c serialport.Conn) error {
				link.Unplug()
				if op == "read" {
					_, err := c.Read(make([]byte, 1))
					return err
				}
				_, err := c.Write([]byte("ping"))
				return err
			})
			if !errors.Is(err, serialport.ErrPortLost) || !strings.Contains(err.Error(), link.Path()) {
				t.Fatalf("%s after unplug = %v; want ErrPortLost naming %s", op, err, link.Path())
			}

			// Gone: opening fails, then fails fast until the backoff passes.
			for attempt := 1; attempt <= 3; attempt++ {
				err := p.Do(t.Context(), errFn(nil))
				var oe *serialport.OpenError
				if !errors.As(err, &oe) || !errors.Is(err, serialport.ErrUnavailable) || !errors.Is(err, fs.ErrNotExist) {
					t.Fatalf("Do while unplugged = %v; want an *OpenError, ErrUnavailable, not exist", err)
				}
				if oe.Attempts != attempt || oe.Next != clk.Now().Add(doubling(attempt)) {
					t.Errorf("attempt %d: %+v; want next attempt in %v", attempt, oe, doubling(attempt))
				}
				clk.Advance(doubling(attempt) / 2)
				err = p.Do(t.Context(), errFn(nil))
				if !errors.As(err, &oe) || oe.Attempts != attempt {
					t.Fatalf("Do within the backoff = %v; want the same *OpenError, no new attempt", err)
				}
				want := "serialport: open " + link.Path() + ": no such file or directory (" + map[int]string{
					1: "1 attempts failed; next attempt in 500ms, at 10:00:01.000Z)",
					2: "2 attempts failed; next attempt in 1s, at 10:00:03.000Z)",
					3: "3 attempts failed; next attempt in 2s, at 10:00:07.000Z)",
				}[attempt]
				if err.Error() != want {
					t.Errorf("Do within the backoff = %q; want %q", err, want)
				}
				clk.Advance(doubling(attempt) / 2)
			}

			// Plugged in again, under a new /dev/pts path.
			ponger(t, link.Replug())
			if link.Pair().Path() == first {
				t.Fatalf("replugged at the same path %s", first)
			}
			if err := p.Do(t.Context(), ping); err != nil {
				t.Fatalf("Do after replug = %v", err)
			}
			if g := p.Generation(); g != 2 {
				t.Errorf("Generation() = %d; want 2", g)
			}
			if n := count(logs, "serial port lost"); n != 1 {
				t.Errorf("%d \"serial port lost\" lines; want 1:\n%s", n, logs)
			}
			if n := count(logs, "serial port reopened"); n != 1 || !strings.Contains(logs.String(), "device="+link.Pair().Path()) {
				t.Errorf("%d \"serial port reopened\" lines; want 1 naming %s:\n%s", n, link.Pair().Path(), logs)
			}
			if n := count(logs, "serial port unavailable"); n != 0 {
				t.Errorf("%d \"serial port unavailable\" lines; want 0 (the loss was logged):\n%s", n, logs)
			}
		})
	}
}

func TestAbsentAtStart(t *testing.T) {
	link := ptytest.NewLink(t)
	link.Unplug()
	clk := clocktest.New(clocktest.Start)
	p, logs := newPort(t, serialport.Config{Path: link.Path()})
	serialport.SetClock(p, clk, doubling)
	for range 3 {
		if err := p.Do(t.Context(), errFn(nil)); !errors.Is(err, serialport.ErrUnavailable) {
			t.Fatalf("Do = %v; want ErrUnavailable", err)
		}
		clk.Advance(time.Minute)
	}
	ponger(t, link.Replug())
	if err := p.Do(t.Context(), ping); err != nil {
		t.Fatalf("Do once plugged = %v", err)
	}
	if u, o := count(logs, "serial port unavailable"), count(logs, "serial port opened"); u != 1 || o != 1 {
		t.Errorf("%d unavailable, %d opened lines; want 1 and 1:\n%s", u, o, logs)
	}
}

func TestOpenDiscardsStaleInput(t *testing.T) {
	dev := ptytest.NewPair(t)
	if _, err := dev.Write([]byte("stale")); err != nil {
		t.Fatal(err)
	}
	p, _ := newPort(t, serialport.Config{Path: dev.Path()})
	err := p.Do(t.Context(), func(ctx context.Context, c serialport.Conn) error {
		if err := c.SetReadTimeout(0); err != nil {
			return err
		}
		n, err := c.Read(make([]byte, 8))
		if n != 0 || !errors.Is(err, serialport.ErrTimeout) {
			t.Errorf("first Read = %d, %v; want 0, ErrTimeout (input before the open discarded)", n, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A device that comes and goes, again and again: each loss and each
// reopening is one line a minute, then one saying how many it suppressed.
func TestFlappingDeviceIsLoggedOnceAMinute(t *testing.T) {
	link := ptytest.NewLink(t)
	ponger(t, link.Pair())
	clk := clocktest.New(clocktest.Start)
	p, logs := newPort(t, serialport.Config{Path: link.Path()})
	serialport.SetClock(p, clk, doubling)
	if err := p.Do(t.Context(), ping); err != nil {
		t.Fatalf("Do = %v", err)
	}
	flap := func() {
		t.Helper()
		err := p.Do(t.Context(), func(ctx context.Context, c serialport.Conn) error {
			link.Unplug()
			_, err := c.Read(make([]byte, 1))
			return err
		})
		if !errors.Is(err, serialport.ErrPortLost) {
			t.Fatalf("read after unplug = %v; want ErrPortLost", err)
		}
		ponger(t, link.Replug())
		if err := p.Do(t.Context(), ping); err != nil {
			t.Fatalf("Do after replug = %v", err)
		}
	}
	const n = 20
	for range n {
		flap()
	}
	for _, msg := range []string{"serial port lost", "serial port reopened"} {
		if got := count(logs, msg); got != 1 {
			t.Errorf("%d losses: %d %q lines; want 1:\n%s", n, got, msg, logs)
		}
	}
	clk.Advance(time.Minute)
	flap()
	if got := count(logs, "serial port lost"); got != 2 || !strings.Contains(logs.String(), fmt.Sprintf("suppressed=%d", n-1)) {
		t.Errorf("a minute later: %d \"serial port lost\" lines; want 2, the second with suppressed=%d:\n%s", got, n-1, logs)
	}
	if g := p.Generation(); g != n+2 {
		t.Errorf("Generation() = %d; want %d: every loss reopened the port", g, n+2)
	}
}
