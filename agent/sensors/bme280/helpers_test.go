package bme280_test

import (
	"errors"
	"slices"
	"sync"
	"testing"

	"go.uber.org/goleak"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2ctest"

	"github.com/iot-hub/agent/agent/sensors/bme280"
	"github.com/iot-hub/agent/agent/sensors/i2cbus"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const busPath = "/dev/i2c-1"

// errRemoteIO stands for the kernel's EREMOTEIO: a device did not answer.
var errRemoteIO = errors.New("sysfs-i2c: remote I/O error")

// bench is a BME280 with plausible trimming parameters.
var bench = device{addr: 0x76, chip: chipBME280, cal: calibration{
	T1: 28485, T2: 26735, T3: 50,
	P1: 39064, P2: -10860, P3: 3024, P4: 5909, P5: -10, P6: -7, P7: 9900, P8: -10230, P9: 4285,
	H1: 75, H2: 359, H3: 0, H4: 333, H5: 0, H6: 30,
}}

// defaults are the register values of the default configuration: ×1
// everything, forced mode, no filter.
var defaults = settings{ctrlMeas: ctrlMeas(1, 1, modeForced), ctrlHum: osrs[1]}

// playback returns a Playback of ops that fails, not panics, on a
// mismatch, and checks at the end of the test that all ops were done.
func playback(t *testing.T, ops ...[]i2ctest.IO) *i2ctest.Playback {
	t.Helper()
	p := &i2ctest.Playback{Ops: slices.Concat(ops...), DontPanic: true}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	})
	return p
}

// adapters is a fake opener: every open hands out an adapter over bus
// that counts its closes and never closes bus, so that one transcript
// spans reopens.
type adapters struct {
	mu            sync.Mutex
	bus           i2c.Bus
	opens, closes int
}

func (a *adapters) open(string) (i2c.BusCloser, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.opens++
	return adapter{a.bus, a}, nil
}

func (a *adapters) counts() (opens, closes int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.opens, a.closes
}

type adapter struct {
	i2c.Bus
	owner *adapters
}

func (c adapter) Close() error {
	c.owner.mu.Lock()
	defer c.owner.mu.Unlock()
	c.owner.closes++
	return nil
}

// openBus returns a Bus over bus, closed at the end of the test.
func openBus(t *testing.T, bus i2c.Bus) (*i2cbus.Bus, *adapters) {
	t.Helper()
	a := &adapters{bus: bus}
	b := i2cbus.Open(busPath, a.open)
	t.Cleanup(func() { b.Close() })
	return b, a
}

// newSensor returns a sensor for cfg, on bus at d's address.
func newSensor(t *testing.T, b *i2cbus.Bus, d device, cfg bme280.Config) *bme280.Sensor {
	t.Helper()
	cfg.Name, cfg.Bus, cfg.Address = "env", b, d.addr
	s, err := bme280.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// hook runs Before before the n-th transaction (counting from 1) on Bus,
// and fails it with Fail when Fail is set, instead of doing it.
type hook struct {
	i2c.Bus
	n      int
	At     int
	Before func()
	Fail   error
}

func (h *hook) Tx(addr uint16, w, r []byte) error {
	h.n++
	if h.n == h.At {
		if h.Before != nil {
			h.Before()
		}
		if h.Fail != nil {
			return h.Fail
		}
	}
	return h.Bus.Tx(addr, w, r)
}
