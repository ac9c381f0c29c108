package i2cbus_test

import (
	"errors"
	"sync"
	"testing"

	"go.uber.org/goleak"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2ctest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// errRemoteIO stands for the kernel's EREMOTEIO: a device did not answer.
var errRemoteIO = errors.New("sysfs-i2c: remote I/O error")

// adapters is a fake opener: every open hands out an adapter over Bus
// that counts its closes and never closes Bus, so that one transcript
// spans reopens.
type adapters struct {
	mu     sync.Mutex
	Bus    i2c.Bus
	Fail   error    // when set, opens fail with it
	paths  []string // of every open
	closes int
}

func (a *adapters) open(path string) (i2c.BusCloser, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.paths = append(a.paths, path)
	if a.Fail != nil {
		return nil, a.Fail
	}
	return &adapter{Bus: a.Bus, owner: a}, nil
}

func (a *adapters) setFail(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.Fail = err
}

// counts returns the opens and closes so far.
func (a *adapters) counts() (opens, closes int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.paths), a.closes
}

type adapter struct {
	i2c.Bus
	owner *adapters
}

func (c *adapter) Close() error {
	c.owner.mu.Lock()
	defer c.owner.mu.Unlock()
	c.owner.closes++
	return nil
}

// failing is a bus whose transactions fail with Err, while Err is set.
type failing struct {
	i2c.Bus
	mu  sync.Mutex
	Err error
}

func (f *failing) Tx(addr uint16, w, r []byte) error {
	f.mu.Lock()
	err := f.Err
	f.mu.Unlock()
	if err != nil {
		return err
	}
	return f.Bus.Tx(addr, w, r)
}

// chipID is the transaction that reads a BME280's chip id register.
func chipID(addr uint16) i2ctest.IO {
	return i2ctest.IO{Addr: addr, W: []byte{0xD0}, R: []byte{0x60}}
}

// readChipID reads the chip id register of the device at addr.
func readChipID(bus i2c.Bus, addr uint16) (byte, error) {
	var id [1]byte
	err := bus.Tx(addr, []byte{0xD0}, id[:])
	return id[0], err
}

// playback returns a Playback of ops that fails, not panics, on a
// mismatch, and checks at the end of the test that all ops were done.
func playback(t *testing.T, ops ...i2ctest.IO) *i2ctest.Playback {
	t.Helper()
	p := &i2ctest.Playback{Ops: ops, DontPanic: true}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	})
	return p
}
