package bme280

import (
	"context"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"

	"github.com/iot-hub/agent/agent/sensors/i2cbus"
)

// conn is the i2c.Bus the bmxx80 device keeps: it forwards to the bus of
// the turn in progress, gives up once the read's ctx has ended (bmxx80
// polls the status register without a bound), and remembers the first
// error, which bmxx80 flattens into text. It is used only inside a turn,
// from one goroutine.
type conn struct {
	ctx context.Context
	bus i2c.Bus // nil between turns
	err error
}

var _ i2c.Bus = (*conn)(nil)

// String returns the bus's path.
func (c *conn) String() string {
	if c.bus == nil {
		return "bme280 (no turn)"
	}
	return c.bus.String()
}

// Tx does a transaction on the turn's bus.
func (c *conn) Tx(addr uint16, w, r []byte) error {
	err := i2cbus.ErrTurnOver
	if c.bus != nil {
		if err = c.ctx.Err(); err == nil {
			err = c.bus.Tx(addr, w, r)
		}
	}
	if err != nil && c.err == nil {
		c.err = err
	}
	return err
}

// SetSpeed is not used by the driver.
func (c *conn) SetSpeed(f physic.Frequency) error {
	if c.bus == nil {
		return i2cbus.ErrTurnOver
	}
	return c.bus.SetSpeed(f)
}
