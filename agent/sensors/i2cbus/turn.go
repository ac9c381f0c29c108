package i2cbus

import (
	"sync"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"
)

// turn is the i2c.Bus handed to one turn's function: the open bus, until
// the turn ends. It remembers the first transaction error.
type turn struct {
	path string
	mu   sync.Mutex
	bus  i2c.Bus // nil once the turn is over
	err  error   // the first Tx error
}

var _ i2c.Bus = (*turn)(nil)

// String returns the bus's path.
func (t *turn) String() string { return t.path }

// Tx does a transaction on the bus, if the turn is not over.
func (t *turn) Tx(addr uint16, w, r []byte) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.bus == nil {
		return ErrTurnOver
	}
	err := t.bus.Tx(addr, w, r)
	if err != nil && t.err == nil {
		t.err = err
	}
	return err
}

// SetSpeed sets the bus speed, if the turn is not over. On Linux it
// changes every I²C bus's speed, if the host driver supports it at all.
// Its failure is not a bus error.
func (t *turn) SetSpeed(f physic.Frequency) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.bus == nil {
		return ErrTurnOver
	}
	return t.bus.SetSpeed(f)
}

// end ends the turn and returns its first Tx error.
func (t *turn) end() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.bus = nil
	return t.err
}
