package modbus

import (
	"net"
	"strconv"
	"time"

	"github.com/iot-hub/agent/internal/confkeys"
)

// TCPSettings are the keys of a modbus-tcp sensor in the configuration
// file: the server, and then what Settings are for a serial slave, with
// Slave the unit id. Their limit tags are the configuration's limits.
type TCPSettings struct {
	// Server is the server's host:port; the port defaults to 502.
	// Required.
	Server string `yaml:"server"`
	// Framing is FramingMBAP (Modbus TCP, the default) or FramingRTU
	// (RTU frames over TCP: a serial device server).
	Framing string `yaml:"framing,omitempty"`
	// Slave is the unit id, 1 to 247: the slave behind a gateway; a
	// device that ignores it answers any. Required.
	Slave uint8 `yaml:"slave,omitempty" limit:"1..247"`
	// ResponseTimeout, Retries and Registers are those of Settings.
	ResponseTimeout time.Duration `yaml:"responseTimeout,omitempty" limit:"1ms..timeout"`
	Retries         *int          `yaml:"retries,omitempty" limit:"0..10"`
	Registers       []Register    `yaml:"registers,omitempty"`
}

// DefaultTCPPort is the Modbus TCP port.
const DefaultTCPPort = "502"

// Settings returns the keys that Settings share.
func (t TCPSettings) Settings() Settings {
	return Settings{Slave: t.Slave, ResponseTimeout: t.ResponseTimeout, Retries: t.Retries, Registers: t.Registers}
}

// SetDefaults fills in the keys left out of t, a sensor whose reads are
// bounded by readTimeout, as Settings.SetDefaults does, and the framing
// and the server's port.
func (t *TCPSettings) SetDefaults(readTimeout time.Duration) {
	s := t.Settings()
	s.SetDefaults(readTimeout)
	t.ResponseTimeout, t.Retries, t.Registers = s.ResponseTimeout, s.Retries, s.Registers
	confkeys.SetDefault(&t.Framing, FramingMBAP)
	if _, _, err := net.SplitHostPort(t.Server); err != nil && t.Server != "" {
		t.Server = net.JoinHostPort(t.Server, DefaultTCPPort)
	}
}

// Validate reports the first wrong value of t, defaults filled in, as
// Settings.Validate does: a server that is not host:port, or a framing
// that is not one.
func (t TCPSettings) Validate(readTimeout time.Duration) error {
	host, port, err := net.SplitHostPort(t.Server)
	switch n, perr := strconv.Atoi(port); {
	case t.Server == "":
		return fieldErr("server", "required: the server's host:port")
	case err != nil || host == "" || perr != nil || n < 1 || n > 65535:
		return fieldErr("server", "%q: want host:port", t.Server)
	case t.Framing != FramingMBAP && t.Framing != FramingRTU:
		return fieldErr("framing", "%q: want mbap or rtu", t.Framing)
	}
	return t.Settings().Validate(readTimeout)
}
