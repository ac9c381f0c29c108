package i2cbus

import (
	"errors"
	"path/filepath"
	"sync"

	"periph.io/x/conn/v3/i2c"
)

// Buses is the registry of the buses in use, by path, so that every
// driver on one adapter shares one [Bus]. The zero value is ready to
// use; it is safe for concurrent use. Buses owns the buses it hands
// out: Close closes them all.
type Buses struct {
	// Opener is the opener of the buses Get opens (see [Open]). Default
	// (nil): periph.io's host/v3/sysfs. Set it before the first Get.
	Opener func(path string) (i2c.BusCloser, error)

	mu     sync.Mutex
	buses  map[string]*Bus
	closed bool
}

// Get returns the Bus at path, the same one for every call with the same
// path (cleaned: "/dev//i2c-1" is "/dev/i2c-1"). After Close, it returns
// a closed Bus.
func (bs *Buses) Get(path string) *Bus {
	path = filepath.Clean(path)
	bs.mu.Lock()
	defer bs.mu.Unlock()
	if b, ok := bs.buses[path]; ok {
		return b
	}
	b := Open(path, bs.Opener)
	if bs.closed {
		b.closed.Store(true)
		return b
	}
	if bs.buses == nil {
		bs.buses = make(map[string]*Bus)
	}
	bs.buses[path] = b
	return b
}

// Close closes every bus Get returned (see [Bus.Close]) and returns
// their errors, joined. Closing twice is a no-op.
func (bs *Buses) Close() error {
	bs.mu.Lock()
	buses := bs.buses
	bs.buses, bs.closed = nil, true
	bs.mu.Unlock()
	var errs []error
	for _, b := range buses {
		errs = append(errs, b.Close())
	}
	return errors.Join(errs...)
}
