package serialport

import (
	"log/slog"
	"strings"

	"github.com/iot-hub/agent/internal/confkeys"
)

// Settings are the keys of a serial port in the configuration file: the
// device of a sensor on a serial line (modbus-rtu, serial-line) and its
// framing, which the sensors of one port share. Zero values are keys
// left out, which SetDefaults fills in; the limit tags are the
// configuration's limits.
type Settings struct {
	// Port is the serial device: /dev/ttyUSB0, or better a stable
	// /dev/serial/by-id/... link, which still names the adapter when it
	// comes back as another tty. Required; an absolute path. The sensors
	// of one port share it (the slaves of one RS-485 line) and must give
	// it the same framing.
	Port string `yaml:"port,omitempty"`
	// Baud is the line's speed: any rate from 50 to 4000000 (MaxBaud), a
	// rate that is not a standard one being asked of the adapter's driver
	// with Linux's BOTHER. Default 9600.
	Baud int `yaml:"baud,omitempty" limit:"50..4000000"`
	// DataBits: 7 or 8. Default 8.
	DataBits int `yaml:"dataBits,omitempty" limit:"7..8"`
	// Parity: none, even or odd. Default none.
	Parity Parity `yaml:"parity,omitempty"`
	// StopBits: 1 or 2. Default 1.
	StopBits int `yaml:"stopBits,omitempty" limit:"1..2"`
}

// SetDefaults fills in the keys left out of s: the framing's.
func (s *Settings) SetDefaults() {
	confkeys.SetDefault(&s.Baud, DefaultBaud)
	confkeys.SetDefault(&s.DataBits, DefaultDataBits)
	confkeys.SetDefault(&s.Parity, DefaultParity)
	confkeys.SetDefault(&s.StopBits, DefaultStopBits)
}

// Validate reports the first key of s, defaults filled in, that is
// wrong, as a *confkeys.FieldError: Port missing or not absolute, or a
// Parity that is not one.
func (s Settings) Validate() error {
	switch {
	case s.Port == "":
		return confkeys.Invalid("port", "required: the serial device, such as /dev/ttyUSB0 or /dev/serial/by-id/...")
	case !strings.HasPrefix(s.Port, "/"):
		return confkeys.Invalid("port", "%q is not an absolute path", s.Port)
	case s.Parity != ParityNone && s.Parity != ParityEven && s.Parity != ParityOdd:
		return confkeys.Invalid("parity", "%q: want none, even or odd", string(s.Parity))
	}
	return nil
}

// Framing writes how s puts bytes on the wire: "9600 8N1".
func (s Settings) Framing() string { return s.Config(nil).withDefaults().framing() }

// Config returns the configuration of s's port, logging to log.
func (s Settings) Config(log *slog.Logger) Config {
	return Config{Path: s.Port, Baud: s.Baud, DataBits: s.DataBits, Parity: s.Parity, StopBits: s.StopBits, Logger: log}
}
