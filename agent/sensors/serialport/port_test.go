package serialport_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/sensors/serialport"
	"github.com/iot-hub/agent/internal/ptytest"
)

func TestTransactionsNeverInterleave(t *testing.T) {
	dev := ptytest.NewPair(t)
	bad := make(chan error, 1)
	done := make(chan struct{})
	go func() { defer close(done); serveFrames(dev, bad) }()
	t.Cleanup(func() { dev.Close(); <-done })
	p, _ := newPort(t, serialport.Config{Path: dev.Path(), Baud: 115200, Parity: serialport.ParityEven})

	const clients, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, clients*each)
	for id := range byte(clients) {
		wg.Go(func() {
			for seq := range byte(each) {
				frame, answer := request(id+1, seq)
				errs <- p.Do(t.Context(), func(ctx context.Context, c serialport.Conn) error {
					return transact(ctx, c, frame, answer)
				})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Do = %v", err)
		}
	}
	select {
	case err := <-bad:
		t.Fatalf("device: %v", err)
	default:
	}
	if g := p.Generation(); g != 1 {
		t.Errorf("Generation() = %d; want 1 (opened once)", g)
	}
}

// hold runs a transaction on p that holds the port until release is
// closed; it returns once the transaction runs, and a channel of its
// result.
func hold(t *testing.T, p *serialport.Port, release <-chan struct{}) <-chan error {
	t.Helper()
	running := make(chan struct{})
	res := make(chan error, 1)
	go func() {
		res <- p.Do(t.Context(), func(ctx context.Context, c serialport.Conn) error {
			close(running)
			select {
			case <-release:
				return nil
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		})
	}()
	select {
	case <-running:
	case err := <-res:
		t.Fatalf("holding Do = %v", err)
	}
	return res
}

func TestTurnsAreFirstComeFirstServed(t *testing.T) {
	dev := ptytest.NewPair(t)
	p, _ := newPort(t, serialport.Config{Path: dev.Path()})
	release := make(chan struct{})
	held := hold(t, p, release)

	var mu sync.Mutex
	var order []int
	var wg sync.WaitGroup
	for i := range 5 {
		wg.Go(func() {
			if err := p.Do(t.Context(), func(context.Context, serialport.Conn) error {
				mu.Lock()
				order = append(order, i)
				mu.Unlock()
				return nil
			}); err != nil {
				t.Errorf("Do %d = %v", i, err)
			}
		})
		waitFor(t, "a waiter to queue", func() bool { return serialport.Waiting(p) == i+1 })
	}
	close(release)
	wg.Wait()
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	if want := []int{0, 1, 2, 3, 4}; !slices.Equal(order, want) {
		t.Errorf("transactions ran in order %v; want %v", order, want)
	}
}

func TestCtxEndsWaitingForTurn(t *testing.T) {
	dev := ptytest.NewPair(t)
	p, _ := newPort(t, serialport.Config{Path: dev.Path()})
	release := make(chan struct{})
	held := hold(t, p, release)

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	called := false
	err := p.Do(ctx, func(context.Context, serialport.Conn) error { called = true; return nil })
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), dev.Path()) || called {
		t.Errorf("Do while the port is held past ctx = %v (fn called: %v); want DeadlineExceeded naming %s, fn not called", err, called, dev.Path())
	}
	if n := serialport.Waiting(p); n != 0 {
		t.Errorf("%d waiting after the ctx ended; want 0", n)
	}
	close(release)
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	// The abandoned turn did not keep the port.
	if err := p.Do(t.Context(), errFn(nil)); err != nil {
		t.Errorf("Do after = %v", err)
	}
}

func TestConnReadTimeouts(t *testing.T) {
	dev := ptytest.NewPair(t)
	p, _ := newPort(t, serialport.Config{Path: dev.Path()})
	buf := make([]byte, 8)
	err := p.Do(t.Context(), func(ctx context.Context, c serialport.Conn) error {
		if err := c.SetReadTimeout(30 * time.Millisecond); err != nil {
			return err
		}
		if n, err := c.Read(buf); n != 0 || !errors.Is(err, serialport.ErrTimeout) {
			t.Errorf("Read from a silent device = %d, %v; want 0, ErrTimeout", n, err)
		}
		if err := c.SetReadTimeout(0); err != nil {
			return err
		}
		if n, err := c.Read(buf); n != 0 || !errors.Is(err, serialport.ErrTimeout) {
			t.Errorf("Read with timeout 0 = %d, %v; want 0, ErrTimeout", n, err)
		}
		if _, err := dev.Write([]byte("hi")); err != nil {
			return err
		}
		if err := c.SetReadTimeout(5 * time.Second); err != nil {
			return err
		}
		if n, err := c.Read(buf); err != nil || string(buf[:n]) != "hi" {
			t.Errorf("Read = %q, %v; want \"hi\"", buf[:n], err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// The ctx deadline bounds a read whatever its timeout.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Millisecond)
	defer cancel()
	err = p.Do(ctx, func(ctx context.Context, c serialport.Conn) error {
		if err := c.SetReadTimeout(time.Hour); err != nil {
			return err
		}
		_, err := c.Read(buf)
		return err
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Read past the ctx deadline = %v; want DeadlineExceeded", err)
	}

	// A Conn kept past its transaction is dead.
	var kept serialport.Conn
	if err := p.Do(t.Context(), func(_ context.Context, c serialport.Conn) error { kept = c; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := kept.Write([]byte("x")); !errors.Is(err, serialport.ErrClosed) {
		t.Errorf("Write after the transaction = %v; want ErrClosed", err)
	}
}

func TestDoReturnsFnError(t *testing.T) {
	dev := ptytest.NewPair(t)
	p, logs := newPort(t, serialport.Config{Path: dev.Path()})
	if err := p.Do(t.Context(), errFn(errTest)); err != errTest {
		t.Errorf("Do = %v; want fn's error as is", err)
	}
	// An error that is not a lost port keeps the port open.
	if err := p.Do(t.Context(), errFn(nil)); err != nil || p.Generation() != 1 {
		t.Errorf("Do = %v, generation %d; want nil, 1", err, p.Generation())
	}
	if n := count(logs, "serial port lost"); n != 0 {
		t.Errorf("%d lost lines; want 0", n)
	}
}

func TestCloseWithDoInFlight(t *testing.T) {
	dev := ptytest.NewPair(t)
	p, err := serialport.New(serialport.Config{Path: dev.Path()})
	if err != nil {
		t.Fatal(err)
	}
	reading, fnDone := make(chan struct{}), make(chan struct{})
	inFlight := make(chan error, 1)
	go func() {
		inFlight <- p.Do(t.Context(), func(ctx context.Context, c serialport.Conn) error {
			defer close(fnDone)
			close(reading)
			_, err := c.Read(make([]byte, 1)) // no timeout: until the end of ctx
			return err
		})
	}()
	<-reading
	waiting := make(chan error, 1)
	go func() { waiting <- p.Do(t.Context(), errFn(nil)) }()
	waitFor(t, "a waiter to queue", func() bool { return serialport.Waiting(p) == 1 })

	if err := p.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	select {
	case <-fnDone:
	default:
		t.Error("Close returned before the transaction in flight")
	}
	if err := <-inFlight; !errors.Is(err, serialport.ErrClosed) {
		t.Errorf("Do in flight = %v; want ErrClosed", err)
	}
	if err := <-waiting; !errors.Is(err, serialport.ErrClosed) {
		t.Errorf("waiting Do = %v; want ErrClosed", err)
	}
	if err := p.Do(t.Context(), errFn(nil)); !errors.Is(err, serialport.ErrClosed) {
		t.Errorf("Do after Close = %v; want ErrClosed", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close = %v; want nil", err)
	}
	// A new port opens the path again.
	p2, _ := newPort(t, serialport.Config{Path: dev.Path()})
	if err := p2.Do(t.Context(), errFn(nil)); err != nil {
		t.Errorf("Do on a new port = %v", err)
	}
}

// TestResetInputBufferDropsWhatWaits: noise (or a late answer) waiting
// in the input is gone after ResetInputBuffer, more of it than one read
// takes; with nothing waiting, it leaves the port as it was.
func TestResetInputBufferDropsWhatWaits(t *testing.T) {
	dev := ptytest.NewPair(t)
	p, _ := newPort(t, serialport.Config{Path: dev.Path()})
	buf := make([]byte, 8)
	err := p.Do(t.Context(), func(ctx context.Context, c serialport.Conn) error {
		if err := c.ResetInputBuffer(); err != nil {
			t.Errorf("ResetInputBuffer with nothing waiting = %v", err)
		}
		if _, err := dev.Write(bytes.Repeat([]byte{0xFF}, 200)); err != nil {
			return err
		}
		time.Sleep(50 * time.Millisecond) // through the pty
		if err := c.ResetInputBuffer(); err != nil {
			t.Errorf("ResetInputBuffer with noise waiting = %v", err)
		}
		if _, err := dev.Write([]byte("ok")); err != nil {
			return err
		}
		if err := c.SetReadTimeout(5 * time.Second); err != nil {
			return err
		}
		if n, err := c.Read(buf); err != nil || string(buf[:n]) != "ok" {
			t.Errorf("Read after the reset = %q, %v; want \"ok\" alone", buf[:n], err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
