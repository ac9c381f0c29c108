package modbus

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/iot-hub/agent/agent/sensors/serialport"
	"github.com/iot-hub/agent/internal/confkeys"
)

// Config configures a Sensor: one slave on a serial line, or one unit of
// a Modbus TCP server, and the registers to read from it. Zero values
// mean the defaults.
type Config struct {
	// Name is the sensor's name in telemetry. Required.
	Name string
	// Port is the serial line the slave is on; the sensor uses it and
	// does not close it. Every sensor of a line must share one Port
	// (serialport.Ports.Get). Port or Server is required.
	Port *serialport.Port
	// Server is the Modbus TCP server (or serial device server) the unit
	// is behind, Settings.Slave its unit id; every sensor of a server
	// shares one (Servers.Get), and the sensor does not close it.
	Server *Server
	// Settings are the slave, its registers, and how requests wait and
	// are retried: the keys of a modbus-rtu sensor.
	Settings
	// Logger receives each failed attempt at debug level. Default:
	// discard.
	// Its lines do not name the sensor: the caller's logger does
	// (With("sensor", name)).
	Logger *slog.Logger
}

// Settings are the keys of a modbus-rtu sensor in the configuration file,
// beside those of its serial line (serialport.Settings): the slave, its
// registers, and how requests wait and are retried. Their limit tags are
// the configuration's limits, which Validate checks too.
type Settings struct {
	// Slave is the slave's address, 1 to 247. Required.
	Slave uint8 `yaml:"slave,omitempty" limit:"1..247"`
	// ResponseTimeout is how long an attempt waits for a whole response
	// once the request is sent. Default DefaultTimeout, or the read's
	// timeout when that is shorter; from 1ms to the read's timeout, at
	// most MaxTimeout, and no shorter than the sensor's longest response
	// takes on the wire at the port's baud rate.
	ResponseTimeout time.Duration `yaml:"responseTimeout,omitempty" limit:"1ms..timeout"`
	// Retries is how many more attempts a request gets after one times
	// out or is answered with a damaged frame; an exception is not
	// retried. From 0, every request sent once, to MaxRetries. Default
	// (nil) DefaultRetries.
	Retries *int `yaml:"retries,omitempty" limit:"0..10"`
	// Registers map the slave's registers to metrics, one per metric, at
	// least one. A Read returns their readings in this order.
	Registers []Register `yaml:"registers,omitempty"`
}

// Defaults and limits of Settings.
const (
	DefaultTimeout = time.Second
	MaxTimeout     = time.Minute
	DefaultRetries = 2
	MaxRetries     = 10 // Retries' limit tag
)

// SetDefaults fills in the keys left out of s, a sensor whose reads are
// bounded by readTimeout (0: unbounded): ResponseTimeout and Retries, as
// New does, and each register's Function (holding registers), Type
// (uint16), WordOrder (HighWordFirst) and Scale (1), which New requires
// or reads as those.
func (s *Settings) SetDefaults(readTimeout time.Duration) {
	s.setDefaults(readTimeout)
	for i := range s.Registers {
		r := &s.Registers[i]
		confkeys.SetDefault(&r.Function, HoldingRegisters)
		confkeys.SetDefault(&r.Type, Uint16)
		confkeys.SetDefault(&r.WordOrder, HighWordFirst)
		confkeys.SetDefault(&r.Scale, 1)
	}
}

// setDefaults fills in ResponseTimeout and Retries, left out of s, a
// sensor whose reads are bounded by readTimeout (0: unbounded).
func (s *Settings) setDefaults(readTimeout time.Duration) {
	timeout := DefaultTimeout
	if readTimeout > 0 {
		timeout = min(timeout, readTimeout)
	}
	confkeys.SetDefault(&s.ResponseTimeout, timeout)
	if s.Retries == nil {
		s.Retries = new(DefaultRetries)
	}
}

// Validate reports the first wrong value of s, a sensor whose reads are
// bounded by readTimeout (0: unbounded), as a *confkeys.FieldError
// wrapping ErrInvalidConfig whose path is the key's: "slave",
// "registers[2].type". Zero values are keys left out: a required one is
// refused, and ResponseTimeout and Retries must have had their defaults
// filled in (SetDefaults).
func (s Settings) Validate(readTimeout time.Duration) error {
	if s.Slave == 0 {
		return fieldErr("slave", "required: the slave's address, 1..247")
	}
	if err := confkeys.CheckLimits(&s); err != nil {
		if e, ok := errors.AsType[*confkeys.FieldError](err); ok {
			e.Err = ErrInvalidConfig
		}
		return err
	}
	switch {
	case readTimeout > 0 && s.ResponseTimeout > readTimeout:
		return fieldErr("responseTimeout", "%v is above the read's timeout, %v", s.ResponseTimeout, readTimeout)
	case s.ResponseTimeout > MaxTimeout:
		return fieldErr("responseTimeout", "%v is above %v, the longest a Modbus request waits", s.ResponseTimeout, MaxTimeout)
	case len(s.Registers) == 0:
		return fieldErr("registers", "required: at least one register per sensor")
	}
	metrics := make(map[string]int, len(s.Registers))
	for i, r := range s.Registers {
		at := fmt.Sprintf("registers[%d].", i)
		if err := r.validate(at); err != nil {
			return err
		}
		if j, dup := metrics[r.Metric]; dup {
			return fieldErr(at+"metric", "%q is also the metric of registers[%d]", r.Metric, j)
		}
		metrics[r.Metric] = i
	}
	return nil
}

// validate reports the first bad value of r, whose keys' paths start with
// at ("registers[2].").
func (r Register) validate(at string) error {
	switch {
	case r.Metric == "":
		return fieldErr(at+"metric", "required")
	case r.words() == 0:
		return fieldErr(at+"type", "%q: want %s", string(r.Type), typeList())
	case r.words() == 2 && r.Address == math.MaxUint16:
		return fieldErr(at+"address", "%d: a %s takes two registers, and there is none after it", r.Address, r.Type)
	case r.WordOrder != "" && r.WordOrder != HighWordFirst && r.WordOrder != LowWordFirst:
		return fieldErr(at+"wordOrder", "%q: want big or little", string(r.WordOrder))
	case math.IsNaN(r.Scale) || math.IsInf(r.Scale, 0):
		return fieldErr(at+"scale", "%v is not a finite number", r.Scale)
	case math.IsNaN(r.Offset) || math.IsInf(r.Offset, 0):
		return fieldErr(at+"offset", "%v is not a finite number", r.Offset)
	}
	return nil
}

// typeList is "int16, uint16, int32, uint32 or float32".
func typeList() string {
	s := make([]string, len(dataTypes))
	for i, t := range dataTypes {
		s[i] = string(t)
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// Validate reports the first value of c that New would refuse, as a
// *confkeys.FieldError wrapping ErrInvalidConfig: Settings.Validate's,
// without a read's timeout, or one of Name, Port, or a ResponseTimeout
// too short for the slave's longest response at the port's baud rate.
func (c Config) Validate() error {
	switch {
	case c.Name == "":
		return fieldErr("name", "required")
	case c.Port == nil && c.Server == nil:
		return fieldErr("port", "required")
	case c.Port != nil && c.Server != nil:
		return fieldErr("server", "a serial port or a server, not both")
	}
	if err := c.withDefaults().Settings.Validate(0); err != nil {
		return err
	}
	if c.ResponseTimeout > 0 && c.Port != nil {
		longest := 0
		for _, b := range plan(c.Slave, c.Registers) {
			longest = max(longest, b.responseLen())
		}
		baud := c.Port.Config().Baud
		if need := wireTime(longest, baud); c.ResponseTimeout < need {
			return fieldErr("responseTimeout", "%v is shorter than the %v a response of %d bytes takes at %d baud: every request would end in a timeout",
				c.ResponseTimeout, need, longest, baud)
		}
	}
	return nil
}

// withDefaults returns c with its zero values set to the defaults.
func (c Config) withDefaults() Config {
	c.Settings.setDefaults(0)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// fieldErr returns the *confkeys.FieldError of the key at path, wrapping
// ErrInvalidConfig, its message formatted.
func fieldErr(path, format string, args ...any) error {
	return &confkeys.FieldError{Path: path, Msg: fmt.Sprintf(format, args...), Err: ErrInvalidConfig}
}
