package mqtt

import (
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/internal/backoff"
	"github.com/iot-hub/agent/internal/confkeys"
)

// Config configures an Uplink. Zero values mean the defaults of
// DefaultConfig.
type Config struct {
	// Settings are the broker, how the uplink connects to it and
	// authenticates, and its pace: the keys of the configuration file's
	// uplink.mqtt section.
	Settings
	// DeviceID is this gateway's id: the client id and the {deviceId} of
	// the topics. Required.
	DeviceID string
	// Certificates, when set, gives the TLS client certificate of every
	// connection, through tls.Config.GetClientCertificate, instead of
	// CertFile and KeyFile (which must then be empty): a rotation swaps the
	// certificate without a restart. A plain TCP broker (mqtt, tcp) never
	// asks for it.
	Certificates CertSource
	// OnConnect, when set, is called after every successful connection
	// (CONNACK accepted) with the leaf certificate that connection presented,
	// nil when it presented none. It must not block.
	OnConnect func(leaf *x509.Certificate)
	// MaxCommandBytes is the largest command the agent takes (the RPC
	// dispatcher's limit). The uplink asks the broker, with the MQTT v5
	// Maximum Packet Size, never to send it a packet larger than a
	// command of this size with its properties (see maxpacket.go): the
	// broker drops a larger command instead. Default 64 KiB; at most
	// 64 MiB.
	MaxCommandBytes int
	// Logger receives the uplink's log lines. Those whose pace the broker
	// sets (a connection made, lost or refused, a publish refused) are
	// limited to one a minute per kind, the next saying how many it
	// suppressed: a connection that flaps does not flood the journal.
	// Default: discard.
	Logger *slog.Logger
	// OnPublished, when set, is told of every record the broker
	// acknowledged: its lane, and its latency, from its Append to the
	// acknowledgement (Entry.AppendedAt is to the millisecond; a clock
	// set back makes it 0). It is called once per record, from the
	// uplink's goroutines: it must be cheap, safe for concurrent use and
	// must not block.
	OnPublished func(lane outbox.Lane, latency time.Duration)
}

// Settings are the keys of the uplink.mqtt section of the agent's
// configuration file (but for embeddedBroker, the broker package's). Zero
// values are keys left out, which SetDefaults fills in; the limit tags are
// the configuration's limits.
type Settings struct {
	// Broker is the broker's URL: mqtt://host:1883 (or tcp://) for plain
	// TCP, mqtts://host:8883 (or tls://, ssl://) for TLS. Required.
	Broker string `yaml:"broker"`
	// KeepAlive is the MQTT keepalive. Default 30s; 1s to 18h.
	KeepAlive time.Duration `yaml:"keepAlive" limit:"1s..18h"`
	// SessionExpiry is how long the broker keeps the session (and the
	// QoS 1 commands sent to it) while the gateway is offline. Default
	// 24h; 1s to 136 years (1191360h).
	SessionExpiry time.Duration `yaml:"sessionExpiry" limit:"1s..1191360h"`
	// CAFile is the PEM CA bundle the broker's certificate must chain to;
	// default: the system's. TLS is 1.2 or later.
	CAFile string `yaml:"caFile"`
	// CertFile and KeyFile are the PEM client certificate and key; they go
	// together.
	CertFile string `yaml:"certFile"`
	// KeyFile: see CertFile.
	KeyFile string `yaml:"keyFile"`
	// Username authenticates, when set.
	Username string `yaml:"username"`
	// Password authenticates, when set.
	Password string `yaml:"password"`
	// Window is how many publishes may await their PUBACK at once, within
	// the broker's Receive Maximum. It bounds a backlog's drain to Window
	// records a round trip: 2,560 a second over a 100 ms link. Default
	// 256; 1 to 65535.
	Window int `yaml:"window" limit:"1..65535"`
	// BackoffMin and BackoffMax bound the wait between connection
	// attempts, drawn from [0, d] ("full jitter"), d doubling from
	// BackoffMin up to BackoffMax. BackoffMax is the longest the uplink
	// takes to try again once the broker is back; the gateways of a fleet
	// that lost it together come back spread over it. Defaults 1s and
	// 15s (BackoffMin when longer): see README, "Reconnecting after an
	// outage". At least 1ms, and BackoffMin at most BackoffMax.
	BackoffMin time.Duration `yaml:"backoffMin" limit:"1ms.."`
	// BackoffMax: see BackoffMin.
	BackoffMax time.Duration `yaml:"backoffMax" limit:"1ms.."`
	// ConnectTimeout bounds one connection attempt, and how long stopping
	// waits for the publishes in flight. Default 10s; 1s to 5m.
	ConnectTimeout time.Duration `yaml:"connectTimeout" limit:"1s..5m"`
	// Protocol is the wire format the uplink speaks: ProtocolV1 (the
	// contract), ProtocolLegacy (the platform's old formats, where they
	// exist) or ProtocolDual (both). Default ProtocolV1. See legacy.go.
	Protocol string `yaml:"protocol"`
	// LegacyTopics are the topics of the old formats, used unless
	// Protocol is ProtocolV1.
	LegacyTopics LegacyTopics `yaml:"legacyTopics"`
}

// DefaultMaxCommandBytes is the default Config.MaxCommandBytes, the RPC
// dispatcher's default limit; maxCommandBytes is the largest.
const (
	DefaultMaxCommandBytes = 64 << 10
	maxCommandBytes        = 64 << 20
)

// DefaultConfig returns the defaults (Broker and DeviceID are empty).
func DefaultConfig() Config {
	c := Config{MaxCommandBytes: DefaultMaxCommandBytes, Logger: slog.New(slog.DiscardHandler)}
	c.Settings.SetDefaults()
	return c
}

// SetDefaults fills in the keys left out of s, but for Broker, which has
// none: BackoffMax's default is BackoffMin when that is longer.
func (s *Settings) SetDefaults() {
	confkeys.SetDefault(&s.KeepAlive, 30*time.Second)
	confkeys.SetDefault(&s.SessionExpiry, 24*time.Hour)
	confkeys.SetDefault(&s.Window, 256)
	confkeys.SetDefault(&s.BackoffMin, time.Second)
	confkeys.SetDefault(&s.BackoffMax, max(backoff.UplinkMax, s.BackoffMin))
	confkeys.SetDefault(&s.ConnectTimeout, 10*time.Second)
	confkeys.SetDefault(&s.Protocol, ProtocolV1)
	s.LegacyTopics.setDefaults()
}

func (c Config) withDefaults() Config {
	c.Settings.SetDefaults()
	if c.MaxCommandBytes == 0 {
		c.MaxCommandBytes = DefaultMaxCommandBytes
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// ErrInvalidConfig is what Validate returns, wrapped with the field.
var ErrInvalidConfig = errors.New("invalid mqtt uplink config")

// Validate reports the first key of s (defaults filled in) that is
// wrong, as a *confkeys.FieldError at the key's path ("broker") wrapping
// ErrInvalidConfig. Its message names the field and the limit, as Go
// callers set it.
func (s Settings) Validate() error {
	u, err := url.Parse(s.Broker)
	var known bool
	if err == nil {
		_, known = SchemeTLS(u.Scheme)
	}
	switch {
	case s.Broker == "":
		return fieldErr("broker", "Broker is required")
	case err != nil:
		return fieldErr("broker", "Broker %q: %v", s.Broker, err)
	case !known:
		return fieldErr("broker", "Broker %q: scheme must be %s", s.Broker, Schemes)
	case u.Host == "":
		return fieldErr("broker", "Broker %q has no host", s.Broker)
	case s.KeepAlive < time.Second || s.KeepAlive > 18*time.Hour:
		return fieldErr("keepAlive", "KeepAlive %v is outside 1s..18h", s.KeepAlive)
	case s.SessionExpiry < 0 || s.SessionExpiry > 136*365*24*time.Hour:
		return fieldErr("sessionExpiry", "SessionExpiry %v is negative or too long", s.SessionExpiry)
	case s.Window < 1 || s.Window > 65535:
		return fieldErr("window", "Window %d is outside 1..65535", s.Window)
	case s.BackoffMin <= 0 || s.BackoffMax < s.BackoffMin:
		return fieldErr("backoffMin", "BackoffMin %v and BackoffMax %v must be positive and in order", s.BackoffMin, s.BackoffMax)
	case (s.CertFile == "") != (s.KeyFile == ""):
		return fieldErr("certFile", "CertFile and KeyFile go together")
	case !slices.Contains(Protocols, s.Protocol):
		return fieldErr("protocol", "Protocol %q is not one of %s", s.Protocol, strings.Join(Protocols, ", "))
	}
	return s.LegacyTopics.validate()
}

// Validate reports the first field (after defaults) that is wrong, naming
// it and the limit: Certificates beside CertFile or KeyFile, the
// Settings' (Settings.Validate's *confkeys.FieldError), DeviceID or
// MaxCommandBytes.
func (c Config) Validate() error {
	c = c.withDefaults()
	if c.Certificates != nil && (c.CertFile != "" || c.KeyFile != "") {
		return fmt.Errorf("%w: Certificates excludes CertFile and KeyFile: the client certificate comes from one or the other", ErrInvalidConfig)
	}
	if err := c.Settings.Validate(); err != nil {
		return err
	}
	switch {
	case c.DeviceID == "":
		return fmt.Errorf("%w: DeviceID is required", ErrInvalidConfig)
	case c.MaxCommandBytes < 1 || c.MaxCommandBytes > maxCommandBytes:
		return fmt.Errorf("%w: MaxCommandBytes %d is outside 1..%d", ErrInvalidConfig, c.MaxCommandBytes, maxCommandBytes)
	}
	return nil
}

// fieldErr returns the *confkeys.FieldError of the key at path, wrapping
// ErrInvalidConfig, its message formatted.
func fieldErr(path, format string, args ...any) error {
	return &confkeys.FieldError{Path: path, Msg: fmt.Sprintf(format, args...), Err: ErrInvalidConfig}
}
