package i2cbus_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"periph.io/x/conn/v3/i2c"

	"github.com/iot-hub/agent/agent/sensors/i2cbus"
)

const path = "/dev/i2c-1"

func TestDoOpensOnceAndRuns(t *testing.T) {
	a := &adapters{Bus: playback(t, chipID(0x76), chipID(0x77))}
	b := i2cbus.Open(path, a.open)
	if opens, _ := a.counts(); opens != 0 {
		t.Fatalf("Open opened the bus %d times; want lazily, at the first turn", opens)
	}
	for _, addr := range []uint16{0x76, 0x77} {
		err := b.Do(context.Background(), func(bus i2c.Bus) error {
			if bus.String() != path {
				t.Errorf("bus.String() = %q; want %q", bus.String(), path)
			}
			id, err := readChipID(bus, addr)
			if id != 0x60 {
				t.Errorf("chip id at %#x = %#x; want 0x60", addr, id)
			}
			return err
		})
		if err != nil {
			t.Fatalf("Do = %v", err)
		}
	}
	if opens, closes := a.counts(); opens != 1 || closes != 0 || a.paths[0] != path {
		t.Errorf("opens %v, closes %d; want one open of %s, no close", a.paths, closes, path)
	}
	if err := b.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	if _, closes := a.counts(); closes != 1 {
		t.Errorf("Close closed the adapter %d times; want 1", closes)
	}
}

// hold starts a turn on b that lasts until the returned func is called,
// which waits for Do to return and reports its error.
func hold(t *testing.T, b *i2cbus.Bus) (release func() error) {
	t.Helper()
	entered, leave, done := make(chan struct{}), make(chan struct{}), make(chan error)
	go func() {
		done <- b.Do(context.Background(), func(i2c.Bus) error {
			close(entered)
			<-leave
			return nil
		})
	}()
	<-entered
	return func() error {
		close(leave)
		return <-done
	}
}

func TestTurnsAreFIFO(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := i2cbus.Open(path, (&adapters{Bus: playback(t)}).open)
		defer b.Close()
		release := hold(t, b)
		var mu sync.Mutex
		var order []int
		var wg sync.WaitGroup
		for i := range 5 {
			wg.Go(func() {
				err := b.Do(context.Background(), func(i2c.Bus) error {
					mu.Lock()
					defer mu.Unlock()
					order = append(order, i)
					return nil
				})
				if err != nil {
					t.Errorf("Do #%d = %v", i, err)
				}
			})
			synctest.Wait() // #i is queued before #i+1 asks
		}
		if len(order) != 0 {
			t.Fatalf("turns %v ran while the bus was held", order)
		}
		if err := release(); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		if want := []int{0, 1, 2, 3, 4}; !slices.Equal(order, want) {
			t.Errorf("turns ran in order %v; want %v, the order they were asked for", order, want)
		}
	})
}

func TestCtxEndsWhileWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := i2cbus.Open(path, (&adapters{Bus: playback(t)}).open)
		defer b.Close()
		release := hold(t, b)

		ctx, cancel := context.WithCancel(context.Background())
		canceled := make(chan error)
		go func() {
			canceled <- b.Do(ctx, func(i2c.Bus) error {
				t.Error("a canceled turn ran")
				return nil
			})
		}()
		timedOut := make(chan error)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			timedOut <- b.Do(ctx, func(i2c.Bus) error {
				t.Error("a timed out turn ran")
				return nil
			})
		}()
		ran := make(chan error)
		go func() { ran <- b.Do(context.Background(), func(i2c.Bus) error { return nil }) }()
		synctest.Wait() // all three are queued

		cancel()
		if err := <-canceled; !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), path) {
			t.Errorf("Do whose ctx was canceled while waiting = %v; want context.Canceled naming %s", err, path)
		}
		if err := <-timedOut; !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Do whose ctx timed out while waiting = %v; want context.DeadlineExceeded", err)
		}
		if err := release(); err != nil {
			t.Fatal(err)
		}
		if err := <-ran; err != nil {
			t.Errorf("Do queued behind two given-up turns = %v; want nil", err)
		}
	})
}

func TestDoWithEndedCtxDoesNotRun(t *testing.T) {
	b := i2cbus.Open(path, (&adapters{Bus: playback(t)}).open)
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := b.Do(ctx, func(i2c.Bus) error {
		t.Error("fn ran with an ended ctx")
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Do(canceled ctx) = %v; want context.Canceled", err)
	}
}

func TestOpenFailureBackoffAndRecovery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		errNoAdapter := errors.New("sysfs-i2c: bus #1 is not configured")
		a := &adapters{Bus: playback(t, chipID(0x76), chipID(0x76)), Fail: errNoAdapter}
		b := i2cbus.Open(path, a.open)
		defer b.Close()
		do := func() error {
			return b.Do(context.Background(), func(bus i2c.Bus) error {
				_, err := readChipID(bus, 0x76)
				return err
			})
		}
		wantOpens := func(step string, want int) {
			t.Helper()
			if opens, _ := a.counts(); opens != want {
				t.Errorf("%s: %d opens; want %d", step, opens, want)
			}
		}

		start := time.Now()
		err := do()
		var oe *i2cbus.OpenError
		if !errors.As(err, &oe) || !errors.Is(err, errNoAdapter) || oe.Path != path {
			t.Fatalf("Do on a missing adapter = %v; want an *OpenError for %s wrapping the cause", err, path)
		}
		if want := "i2cbus: open /dev/i2c-1: sysfs-i2c: bus #1 is not configured"; err.Error() != want {
			t.Errorf("error text %q; want %q", err, want)
		}
		if wait := oe.Next.Sub(start); wait < i2cbus.MinBackoff/2 || wait > i2cbus.MinBackoff {
			t.Errorf("next open in %v; want within [%v, %v]", wait, i2cbus.MinBackoff/2, i2cbus.MinBackoff)
		}
		wantOpens("first turn", 1)

		if err2 := do(); err2 != err {
			t.Errorf("Do during the backoff = %v; want the same error, at once", err2)
		}
		wantOpens("during the backoff", 1)

		time.Sleep(i2cbus.MinBackoff)
		if err := do(); !errors.Is(err, errNoAdapter) {
			t.Errorf("Do after the backoff = %v; want another failed open", err)
		}
		wantOpens("after the first backoff", 2)

		a.setFail(nil)
		time.Sleep(i2cbus.MinBackoff / 4)
		if err := do(); !errors.As(err, &oe) {
			t.Errorf("Do during the second, longer backoff = %v; want the *OpenError", err)
		}
		wantOpens("during the second backoff", 2)

		time.Sleep(2 * i2cbus.MinBackoff)
		if err := do(); err != nil {
			t.Errorf("Do once the adapter is back = %v; want nil", err)
		}
		wantOpens("after recovery", 3)
		if err := do(); err != nil {
			t.Errorf("Do on the reopened bus = %v", err)
		}
		wantOpens("on the open bus", 3)
	})
}

func TestBusErrorClosesAndNextTurnReopens(t *testing.T) {
	f := &failing{Bus: playback(t, chipID(0x76), chipID(0x76))}
	a := &adapters{Bus: f}
	b := i2cbus.Open(path, a.open)
	defer b.Close()
	read := func(bus i2c.Bus) error { _, err := readChipID(bus, 0x76); return err }

	if err := b.Do(context.Background(), read); err != nil {
		t.Fatal(err)
	}
	f.Err = errRemoteIO
	if err := b.Do(context.Background(), read); !errors.Is(err, errRemoteIO) {
		t.Fatalf("Do whose Tx failed = %v; want fn's error, %v", err, errRemoteIO)
	}
	if opens, closes := a.counts(); opens != 1 || closes != 1 {
		t.Errorf("after a bus error: %d opens, %d closes; want 1, 1", opens, closes)
	}
	f.Err = nil
	errOwn := errors.New("implausible reading")
	err := b.Do(context.Background(), func(bus i2c.Bus) error {
		if err := read(bus); err != nil {
			return err
		}
		return errOwn
	})
	if !errors.Is(err, errOwn) {
		t.Fatalf("Do = %v; want %v", err, errOwn)
	}
	if opens, closes := a.counts(); opens != 2 || closes != 1 {
		t.Errorf("after fn's own error: %d opens, %d closes; want 2, 1 (reopened once, kept open)", opens, closes)
	}
}

func TestPanicReleasesTheTurnAndClosesTheBus(t *testing.T) {
	a := &adapters{Bus: playback(t)}
	b := i2cbus.Open(path, a.open)
	defer b.Close()
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Do swallowed fn's panic")
			}
		}()
		_ = b.Do(context.Background(), func(i2c.Bus) error { panic("driver bug") })
	}()
	if err := b.Do(context.Background(), func(i2c.Bus) error { return nil }); err != nil {
		t.Errorf("Do after a panicking turn = %v; want nil", err)
	}
	if opens, closes := a.counts(); opens != 2 || closes != 1 {
		t.Errorf("after a panic: %d opens, %d closes; want 2, 1", opens, closes)
	}
}

func TestCloseWaitsForTheTurnInProgress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := &adapters{Bus: playback(t, chipID(0x76))}
		b := i2cbus.Open(path, a.open)
		entered, leave, inFlight := make(chan struct{}), make(chan struct{}), make(chan error)
		go func() {
			inFlight <- b.Do(context.Background(), func(bus i2c.Bus) error {
				close(entered)
				<-leave
				_, err := readChipID(bus, 0x76) // the bus is still open
				return err
			})
		}()
		<-entered
		queued := make(chan error)
		go func() {
			queued <- b.Do(context.Background(), func(i2c.Bus) error {
				t.Error("a turn queued before Close ran after it")
				return nil
			})
		}()
		synctest.Wait()
		closed := make(chan error)
		go func() { closed <- b.Close() }()
		synctest.Wait()

		select {
		case err := <-closed:
			t.Fatalf("Close returned %v while a turn was in progress", err)
		default:
		}
		if _, closes := a.counts(); closes != 0 {
			t.Fatal("Close closed the adapter under the turn in progress")
		}
		if err := b.Do(context.Background(), func(i2c.Bus) error { return nil }); !errors.Is(err, i2cbus.ErrClosed) {
			t.Errorf("Do while closing = %v; want ErrClosed at once", err)
		}

		close(leave)
		if err := <-inFlight; err != nil {
			t.Errorf("the turn in progress = %v; want nil", err)
		}
		if err := <-queued; !errors.Is(err, i2cbus.ErrClosed) {
			t.Errorf("the queued turn = %v; want ErrClosed", err)
		}
		if err := <-closed; err != nil {
			t.Errorf("Close = %v", err)
		}
		if err := b.Close(); err != nil {
			t.Errorf("second Close = %v; want nil", err)
		}
		if _, closes := a.counts(); closes != 1 {
			t.Errorf("the adapter was closed %d times; want 1", closes)
		}
	})
}

func TestBusUsedAfterTurnFails(t *testing.T) {
	b := i2cbus.Open(path, (&adapters{Bus: playback(t)}).open)
	defer b.Close()
	var kept i2c.Bus
	if err := b.Do(context.Background(), func(bus i2c.Bus) error { kept = bus; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := readChipID(kept, 0x76); !errors.Is(err, i2cbus.ErrTurnOver) {
		t.Errorf("Tx after the turn = %v; want ErrTurnOver", err)
	}
}

func TestDefaultOpener(t *testing.T) {
	for _, tt := range []struct {
		path string
		want string
	}{
		{"/dev/i2c-x", "i2cbus: open /dev/i2c-x: not a /dev/i2c-N path"},
		{"/tmp/i2c-1", "i2cbus: open /tmp/i2c-1: not a /dev/i2c-N path"},
	} {
		t.Run(tt.path, func(t *testing.T) {
			err := i2cbus.Open(tt.path, nil).Do(context.Background(), func(i2c.Bus) error { return nil })
			if err == nil || err.Error() != tt.want {
				t.Errorf("Do = %v; want %q", err, tt.want)
			}
		})
	}
	t.Run("missing adapter", func(t *testing.T) {
		const missing = "/dev/i2c-987"
		if _, err := os.Stat(missing); err == nil {
			t.Skip(missing, "exists")
		}
		err := i2cbus.Open(missing, nil).Do(context.Background(), func(i2c.Bus) error { return nil })
		if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
			t.Errorf("Do = %v; want fs.ErrNotExist naming %s", err, missing)
		}
	})
}
