// Package i2cbustest gives drivers' tests an i2cbus.Bus whose
// transactions are a transcript: periph.io's i2ctest.Playback, built from
// a datasheet's transactions.
package i2cbustest

import (
	"testing"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2ctest"

	"github.com/iot-hub/agent/agent/sensors/i2cbus"
)

// Playback returns a bus named /dev/i2c-1 whose transactions must be ops,
// in order; a transaction that differs fails (not panics), and at the
// test's end the bus is closed and every op must have been done.
func Playback(t testing.TB, ops ...i2ctest.IO) *i2cbus.Bus {
	t.Helper()
	p := &i2ctest.Playback{Ops: ops, DontPanic: true}
	b := i2cbus.Open("/dev/i2c-1", func(string) (i2c.BusCloser, error) { return nopCloser{p}, nil })
	t.Cleanup(func() {
		b.Close()
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	})
	return b
}

// nopCloser is a bus the i2cbus.Bus may close and reopen: the transcript
// goes on across reopens.
type nopCloser struct{ i2c.Bus }

func (nopCloser) Close() error { return nil }
