package mqtt

import (
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/internal/backoff"
)

// Config configures an Uplink. Zero values mean the defaults of
// DefaultConfig.
type Config struct {
	// Broker is the broker's URL: mqtt://host:1883 (or tcp://) for plain
	// TCP, mqtts://host:8883 (or tls://, ssl://) for TLS. Required.
	Broker string
	// DeviceID is this gateway's id: the client id and the {deviceId} of
	// the topics. Required.
	DeviceID string
	// KeepAlive is the MQTT keepalive. Default 30 s.
	KeepAlive time.Duration
	// SessionExpiry is how long the broker keeps the session (and the
	// QoS 1 commands sent to it) while the gateway is offline. Default 24 h.
	SessionExpiry time.Duration
	// CAFile, CertFile and KeyFile are PEM files: the CA bundle the broker's
	// certificate must chain to (default: the system's), and the client
	// certificate and key. TLS is 1.2 or later.
	CAFile, CertFile, KeyFile string
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
	// Username and Password authenticate, when set.
	Username, Password string
	// Window is how many publishes may await their PUBACK at once.
	// Default 64.
	Window int
	// MaxCommandBytes is the largest command the agent takes (the RPC
	// dispatcher's limit). The uplink asks the broker, with the MQTT v5
	// Maximum Packet Size, never to send it a packet larger than a
	// command of this size with its properties (see maxpacket.go): the
	// broker drops a larger command instead. Default 64 KiB; at most
	// 64 MiB.
	MaxCommandBytes int
	// BackoffMin and BackoffMax bound the wait between connection
	// attempts, drawn from [0, d] ("full jitter"), d doubling from
	// BackoffMin up to BackoffMax. BackoffMax is the longest the uplink
	// takes to try again once the broker is back; the gateways of a fleet
	// that lost it together come back spread over it. Defaults 1 s and
	// 15 s (BackoffMin when longer): see README, "Reconnecting after an
	// outage".
	BackoffMin, BackoffMax time.Duration
	// ConnectTimeout bounds one connection attempt. Default 10 s.
	ConnectTimeout time.Duration
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

// DefaultMaxCommandBytes is the default Config.MaxCommandBytes, the RPC
// dispatcher's default limit; maxCommandBytes is the largest.
const (
	DefaultMaxCommandBytes = 64 << 10
	maxCommandBytes        = 64 << 20
)

// DefaultConfig returns the defaults (Broker and DeviceID are empty).
func DefaultConfig() Config {
	return Config{
		KeepAlive:       30 * time.Second,
		SessionExpiry:   24 * time.Hour,
		Window:          64,
		MaxCommandBytes: DefaultMaxCommandBytes,
		BackoffMin:      time.Second,
		BackoffMax:      backoff.UplinkMax,
		ConnectTimeout:  10 * time.Second,
		Logger:          slog.New(slog.DiscardHandler),
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.KeepAlive == 0 {
		c.KeepAlive = d.KeepAlive
	}
	if c.SessionExpiry == 0 {
		c.SessionExpiry = d.SessionExpiry
	}
	if c.Window == 0 {
		c.Window = d.Window
	}
	if c.MaxCommandBytes == 0 {
		c.MaxCommandBytes = d.MaxCommandBytes
	}
	if c.BackoffMin == 0 {
		c.BackoffMin = d.BackoffMin
	}
	if c.BackoffMax == 0 {
		c.BackoffMax = max(d.BackoffMax, c.BackoffMin)
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = d.ConnectTimeout
	}
	if c.Logger == nil {
		c.Logger = d.Logger
	}
	return c
}

// ErrInvalidConfig is what Validate returns, wrapped with the field.
var ErrInvalidConfig = errors.New("invalid mqtt uplink config")

// Validate reports the first field (after defaults) that is wrong, naming
// it and the limit.
func (c Config) Validate() error {
	c = c.withDefaults()
	u, err := url.Parse(c.Broker)
	var known bool
	if err == nil {
		_, known = SchemeTLS(u.Scheme)
	}
	switch {
	case c.Broker == "":
		return fmt.Errorf("%w: Broker is required", ErrInvalidConfig)
	case err != nil:
		return fmt.Errorf("%w: Broker %q: %w", ErrInvalidConfig, c.Broker, err)
	case !known:
		return fmt.Errorf("%w: Broker %q: scheme must be %s", ErrInvalidConfig, c.Broker, Schemes)
	case u.Host == "":
		return fmt.Errorf("%w: Broker %q has no host", ErrInvalidConfig, c.Broker)
	case c.DeviceID == "":
		return fmt.Errorf("%w: DeviceID is required", ErrInvalidConfig)
	case c.KeepAlive < time.Second || c.KeepAlive > 18*time.Hour:
		return fmt.Errorf("%w: KeepAlive %v is outside 1s..18h", ErrInvalidConfig, c.KeepAlive)
	case c.SessionExpiry < 0 || c.SessionExpiry > 136*365*24*time.Hour:
		return fmt.Errorf("%w: SessionExpiry %v is negative or too long", ErrInvalidConfig, c.SessionExpiry)
	case c.Window < 1 || c.Window > 65535:
		return fmt.Errorf("%w: Window %d is outside 1..65535", ErrInvalidConfig, c.Window)
	case c.MaxCommandBytes < 1 || c.MaxCommandBytes > maxCommandBytes:
		return fmt.Errorf("%w: MaxCommandBytes %d is outside 1..%d", ErrInvalidConfig, c.MaxCommandBytes, maxCommandBytes)
	case c.BackoffMin <= 0 || c.BackoffMax < c.BackoffMin:
		return fmt.Errorf("%w: BackoffMin %v and BackoffMax %v must be positive and in order", ErrInvalidConfig, c.BackoffMin, c.BackoffMax)
	case c.Certificates != nil && (c.CertFile != "" || c.KeyFile != ""):
		return fmt.Errorf("%w: Certificates excludes CertFile and KeyFile: the client certificate comes from one or the other", ErrInvalidConfig)
	case (c.CertFile == "") != (c.KeyFile == ""):
		return fmt.Errorf("%w: CertFile and KeyFile go together", ErrInvalidConfig)
	}
	return nil
}
