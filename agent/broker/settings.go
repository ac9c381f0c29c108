package broker

import (
	"net"
	"strconv"

	"github.com/iot-hub/agent/internal/confkeys"
)

// Settings are the keys of the embedded broker in the agent's
// configuration file (uplink.mqtt.embeddedBroker): the MQTT broker the
// agent can run itself, for a single gateway without a broker of its own
// (a demo, a lab bench, a site whose local consumers subscribe on the
// gateway). Without Users it accepts every client without
// authentication, and without TLS it speaks plain MQTT: keep it on a
// loopback or trusted address unless both are set. Zero values are keys
// left out, which SetDefaults fills in.
type Settings struct {
	// Enabled starts the broker: the agent calls Start only when it is
	// set, which Start does not read. Default false.
	Enabled bool `yaml:"enabled"`
	// Listen is the TCP address it listens on; port 0 picks a free port
	// (see Broker.Addr). Default [DefaultListen].
	Listen string `yaml:"listen"`
	// TLS has the listener serve TLS, and ask clients for certificates.
	// Default: none, plain MQTT.
	TLS TLS `yaml:"tls,omitempty"`
	// Users, when given, are the only clients the broker accepts, each
	// by its password or its certificate, and within its topic filters:
	// devices on the gateway's network. The agent's own uplink, if it
	// uses this broker, must be one of them. Default: none, and every
	// client (that passes TLS.ClientCAFile, when set) is accepted with
	// every topic.
	Users []User `yaml:"users,omitempty"`
	// Integrate makes the messages of its clients on chosen topics the
	// agent's integration.mqtt.received events, or its device.telemetry
	// when they are old plain telemetry objects. Default: none.
	Integrate Integrate `yaml:"integrate,omitempty"`
}

// DefaultListen is the default Settings.Listen: loopback only.
const DefaultListen = "127.0.0.1:1883"

// SetDefaults fills in the keys left out of s.
func (s *Settings) SetDefaults() {
	confkeys.SetDefault(&s.Listen, DefaultListen)
	for i := range s.Users {
		s.Users[i].setDefaults()
	}
	s.Integrate.setDefaults()
}

// Validate reports the first key of s (defaults filled in) that is
// wrong, when s is Enabled, as a *confkeys.FieldError at it wrapping
// confkeys.ErrInvalid: a Listen that is not host:port ("listen"), a TLS
// key missing beside another, a user that is wrong. It reads no file:
// TLSConfig does. A disabled broker's keys are not checked.
func (s Settings) Validate() error {
	if !s.Enabled {
		return nil
	}
	_, port, err := net.SplitHostPort(s.Listen)
	if err != nil {
		return confkeys.Invalid("listen", "%q is not host:port", s.Listen)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return confkeys.Invalid("listen", "%q: port %q is not 0..65535", s.Listen, port)
	}
	if err := s.TLS.validate(); err != nil {
		return err
	}
	if err := validateUsers(s.Users, s.TLS.ClientCAFile != ""); err != nil {
		return err
	}
	return s.Integrate.validate()
}
