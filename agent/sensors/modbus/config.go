package modbus

import (
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/iot-hub/agent/agent/sensors/serialport"
)

// Config configures a Sensor: one slave on a serial line and the
// registers to read from it. Zero values mean the defaults.
type Config struct {
	// Name is the sensor's name in telemetry. Required.
	Name string
	// Port is the serial line the slave is on; the sensor uses it and
	// does not close it. Every sensor of a line must share one Port
	// (serialport.Ports.Get). Required.
	Port *serialport.Port
	// Slave is the slave's address, 1..247. Required.
	Slave uint8
	// Registers are the metrics to read, at least one. A Read returns
	// their readings in this order.
	Registers []Register
	// Timeout is how long an attempt waits for a whole response once the
	// request is sent. Default DefaultTimeout; at most MaxTimeout, and no
	// shorter than the sensor's longest response takes on the wire at the
	// port's baud rate.
	Timeout time.Duration
	// Retries is how many more attempts a request gets after one times
	// out or is answered with a damaged frame; an exception is not
	// retried. Default (0) DefaultRetries; NoRetries for one attempt
	// only; at most MaxRetries.
	Retries int
	// Logger receives each failed attempt at debug level. Default:
	// discard.
	// Its lines do not name the sensor: the caller's logger does
	// (With("sensor", name)).
	Logger *slog.Logger
}

// Defaults and limits of Config.
const (
	DefaultTimeout = time.Second
	MaxTimeout     = time.Minute
	DefaultRetries = 2
	MaxRetries     = 10
	// NoRetries as Config.Retries makes every request a single attempt.
	NoRetries = -1
)

// Validate reports the first value of c that New would refuse, as a
// *FieldError naming it.
func (c Config) Validate() error {
	switch {
	case c.Name == "":
		return fieldErr("name", "required")
	case c.Port == nil:
		return fieldErr("port", "required")
	case c.Slave < 1 || c.Slave > 247:
		return fieldErr("slave", "%d is outside 1..247", c.Slave)
	case len(c.Registers) == 0:
		return fieldErr("registers", "at least one is required")
	}
	metrics := make(map[string]int, len(c.Registers))
	for i, r := range c.Registers {
		if err := r.validate(fmt.Sprintf("registers[%d]", i)); err != nil {
			return err
		}
		if j, dup := metrics[r.Metric]; dup {
			return fieldErr(fmt.Sprintf("registers[%d].metric", i), "%q is also the metric of registers[%d]", r.Metric, j)
		}
		metrics[r.Metric] = i
	}
	switch {
	case c.Timeout < 0:
		return fieldErr("timeout", "%v is negative", c.Timeout)
	case c.Timeout > MaxTimeout:
		return fieldErr("timeout", "%v is above %v", c.Timeout, MaxTimeout)
	case c.Timeout > 0:
		longest := 0
		for _, b := range plan(c.Slave, c.Registers) {
			longest = max(longest, b.responseLen())
		}
		baud := c.Port.Config().Baud
		if need := wireTime(longest, baud); c.Timeout < need {
			return fieldErr("timeout", "%v is shorter than the %v a response of %d bytes takes at %d baud", c.Timeout, need, longest, baud)
		}
	}
	if c.Retries < NoRetries || c.Retries > MaxRetries {
		return fieldErr("retries", "%d: want 1..%d, 0 for the default (%d) or %d for none", c.Retries, MaxRetries, DefaultRetries, NoRetries)
	}
	return nil
}

// validate reports the first bad value of r, whose path is field.
func (r Register) validate(field string) error {
	switch {
	case r.Metric == "":
		return fieldErr(field+".metric", "required")
	case r.Function != HoldingRegisters && r.Function != InputRegisters:
		return fieldErr(field+".function", "%d is not one of 3 (holding registers), 4 (input registers)", r.Function)
	case r.Type == "":
		return fieldErr(field+".type", "required: one of %s", typeList())
	case r.words() == 0:
		return fieldErr(field+".type", "%q is not one of %s", string(r.Type), typeList())
	case r.WordOrder != "" && r.WordOrder != HighWordFirst && r.WordOrder != LowWordFirst:
		return fieldErr(field+".wordOrder", "%q is not one of big, little", string(r.WordOrder))
	case int(r.Address)+int(r.words()) > 1<<16:
		return fieldErr(field+".address", "%d: a %s spans %d registers, past the last, 65535", r.Address, r.Type, r.words())
	case math.IsNaN(r.Scale) || math.IsInf(r.Scale, 0):
		return fieldErr(field+".scale", "%v is not finite", r.Scale)
	case math.IsNaN(r.Offset) || math.IsInf(r.Offset, 0):
		return fieldErr(field+".offset", "%v is not finite", r.Offset)
	}
	return nil
}

// typeList is "int16, uint16, int32, uint32, float32".
func typeList() string {
	s := make([]string, len(dataTypes))
	for i, t := range dataTypes {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

// withDefaults returns c with its zero values set to the defaults.
func (c Config) withDefaults() Config {
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	switch c.Retries {
	case 0:
		c.Retries = DefaultRetries
	case NoRetries:
		c.Retries = 0
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}
