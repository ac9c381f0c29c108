package i2cbus

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync/atomic"
	"time"

	"periph.io/x/conn/v3/i2c"

	"github.com/iot-hub/agent/internal/confkeys"
)

// Bus is one I²C bus shared by the drivers of the devices on it. Every
// transaction goes through [Bus.Do], one turn at a time. It is safe for
// concurrent use. Whoever calls Open owns the Bus and closes it.
type Bus struct {
	path   string
	opener func(path string) (i2c.BusCloser, error)
	closed atomic.Bool
	q      queue

	// Owned by the turn in progress.
	bus      i2c.BusCloser // nil until opened, and after a bus error
	openErr  *OpenError    // of the last failed open, until one succeeds
	failures int           // failed opens in a row
}

// Open returns the Bus at path ("/dev/i2c-1"), opened lazily by the
// first turn through opener. A nil opener opens /dev/i2c-N with
// periph.io's host/v3/sysfs driver. Open itself does no I/O and cannot
// fail: a bad path or a missing adapter shows as an [*OpenError] from
// Do.
func Open(path string, opener func(path string) (i2c.BusCloser, error)) *Bus {
	if opener == nil {
		opener = openSysfs
	}
	return &Bus{path: path, opener: opener}
}

// Path returns the path given to Open.
func (b *Bus) Path() string { return b.path }

// Do waits for its turn on the bus, opens the bus if needed and runs fn
// alone on it, on the calling goroutine. fn must use the bus it is
// given, and only until it returns; fn's error is returned as it is.
//
// Do fails without running fn when ctx ends before the turn comes (with
// ctx's error), when the bus cannot be opened (with an [*OpenError]) and
// when the Bus is closed ([ErrClosed]). Any error from a transaction
// fn made closes the bus at the end of the turn, so the next turn
// reopens it.
func (b *Bus) Do(ctx context.Context, fn func(bus i2c.Bus) error) error {
	if b.closed.Load() {
		return b.errClosed()
	}
	if err := b.q.acquire(ctx); err != nil {
		return fmt.Errorf("i2cbus: %s: waiting for a turn: %w", b.path, err)
	}
	defer b.q.release()
	if b.closed.Load() {
		return b.errClosed()
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("i2cbus: %s: waiting for a turn: %w", b.path, err)
	}
	bus, err := b.open()
	if err != nil {
		return err
	}
	t := &turn{path: b.path, bus: bus}
	returned := false
	defer func() {
		// On a bus error or a panic, the adapter's state is unknown.
		if t.end() != nil || !returned {
			b.drop()
		}
	}()
	err = fn(t)
	returned = true
	return err
}

// open returns the open bus, opening it if the backoff allows. It runs
// in a turn.
func (b *Bus) open() (i2c.BusCloser, error) {
	if b.bus != nil {
		return b.bus, nil
	}
	if b.openErr != nil && time.Now().Before(b.openErr.Next) {
		return nil, b.openErr
	}
	bus, err := b.opener(b.path)
	if err == nil && bus == nil {
		err = errors.New("opener returned no bus")
	}
	if err != nil {
		b.failures++
		b.openErr = &OpenError{Path: b.path, Err: err, Next: time.Now().Add(openBackoff(b.failures))}
		return nil, b.openErr
	}
	b.bus, b.openErr, b.failures = bus, nil, 0
	return bus, nil
}

// drop closes the bus after a bus error, so that the next turn reopens
// it. The close error is of no use: the bus is being given up. It runs
// in a turn.
func (b *Bus) drop() {
	if b.bus != nil {
		_ = b.bus.Close()
		b.bus = nil
	}
}

// Close waits for the turn in progress, if any, to end, then closes the
// adapter. Turns still queued and later calls to Do fail with
// [ErrClosed]. Closing twice is a no-op.
func (b *Bus) Close() error {
	if b.closed.Swap(true) {
		return nil
	}
	_ = b.q.acquire(context.Background()) // cannot fail: Background never ends
	defer b.q.release()
	if b.bus == nil {
		return nil
	}
	err := b.bus.Close()
	b.bus = nil
	if err != nil {
		return fmt.Errorf("i2cbus: close %s: %w", b.path, err)
	}
	return nil
}

func (b *Bus) errClosed() error { return fmt.Errorf("i2cbus: %s: %w", b.path, ErrClosed) }

// devicePath is what an I²C bus device's path may be.
var devicePath = regexp.MustCompile(`^/dev/i2c-[0-9]+$`)

// ValidateBusKey checks a sensor's bus key: an I²C bus device such as
// /dev/i2c-1. Its error is a *confkeys.FieldError of the key "bus".
func ValidateBusKey(path string) error {
	if !devicePath.MatchString(path) {
		return confkeys.Invalid("bus", "%q: want an I2C bus device such as /dev/i2c-1", path)
	}
	return nil
}
