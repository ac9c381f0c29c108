package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/iot-hub/agent/internal/lograte"
)

// Config configures a Broker. Zero values mean the defaults of
// DefaultConfig.
type Config struct {
	// Settings are where the broker listens: the keys of uplink.mqtt's
	// embeddedBroker in the agent's configuration file.
	Settings
	// Logger receives the broker's warnings and errors. Default: discard.
	Logger *slog.Logger
	// OnMessage receives the messages Settings.Integrate takes, on the
	// publishing client's goroutine, before the broker acknowledges
	// them, and returns how it kept one: Taken, Adapted, or Unadapted
	// with the error that says why it could not be adapted. Any other
	// error has the broker answer the device with one (MQTT v5, QoS 1
	// and 2) and not pass the message on, counted as Failed. Default:
	// none taken.
	OnMessage func(Message) (Outcome, error)
}

// sysInterval is how often the broker updates its $SYS topics:
// mosquitto's default sys_interval.
const sysInterval = 10 * time.Second

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	c := Config{Logger: slog.New(slog.DiscardHandler)}
	c.Settings.SetDefaults()
	return c
}

// Broker is a running MQTT broker. Its methods are safe for concurrent
// use.
type Broker struct {
	srv       *mochi.Server
	tcp       *Listener
	tls       bool           // the listener serves TLS
	integrate *integrateHook // nil when nothing is taken
}

// Start listens on cfg.Listen and serves MQTT 3.1.1 and 5 until Close,
// over TLS when cfg.TLS is set, whose files it reads (see
// Settings.TLSConfig).
func Start(cfg Config) (*Broker, error) {
	d := DefaultConfig()
	cfg.Users = slices.Clone(cfg.Users) // SetDefaults fills them in: the caller's stay as they are
	cfg.Settings.SetDefaults()
	if cfg.Logger == nil {
		cfg.Logger = d.Logger
	}
	caps := mochi.NewDefaultServerCapabilities()
	// Keep retained messages (the devices' status) until replaced, not
	// for mochi's default of one day.
	caps.MaximumMessageExpiryInterval = 0
	// A PUBACK carries no copy of the publish's properties (mochi's
	// default copies its user properties: eventType, correlationId...).
	caps.Compatibilities.NoInheritedPropertiesOnAck = true
	srv := mochi.New(&mochi.Options{
		Capabilities: caps,
		// $SYS topics every sysInterval, as mosquitto's sys_interval does,
		// rather than mochi's every second: each round stops the world
		// (runtime.ReadMemStats) and republishes twenty retained messages.
		SysTopicResendInterval: int64(sysInterval / time.Second),
		Logger:                 slog.New(quiet{limited(cfg.Logger.Handler())}),
	})
	tlsConfig, err := cfg.Settings.TLSConfig()
	if err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	var access mochi.Hook = new(auth.AllowHook)
	if len(cfg.Users) > 0 {
		if err := validateUsers(cfg.Users, tlsConfig != nil && tlsConfig.ClientCAs != nil); err != nil {
			return nil, fmt.Errorf("broker: %w", err)
		}
		access = newUsersHook(cfg.Users)
	}
	if err := srv.AddHook(access, nil); err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	if err := srv.AddHook(new(dropTooLarge), nil); err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	var integrate *integrateHook
	if cfg.OnMessage != nil && cfg.Integrate.takes() {
		integrate = newIntegrateHook(cfg.Integrate, cfg.OnMessage, time.Now)
		if err := srv.AddHook(integrate, nil); err != nil {
			return nil, fmt.Errorf("broker: %w", err)
		}
	}
	tcp := NewListener("tcp", cfg.Listen, tlsConfig)
	if err := srv.AddListener(tcp); err != nil {
		return nil, fmt.Errorf("broker: listen on %s: %w", cfg.Listen, err)
	}
	if err := srv.Serve(); err != nil {
		_ = srv.Close()
		return nil, fmt.Errorf("broker: serve: %w", err)
	}
	return &Broker{srv: srv, tcp: tcp, tls: tlsConfig != nil, integrate: integrate}, nil
}

// Stats returns the clients connected and what became of their messages
// on Settings.Integrate's topics.
func (b *Broker) Stats() Stats {
	var s Stats
	if b.integrate != nil {
		s = b.integrate.stats(func(id string) bool {
			cl, ok := b.srv.Clients.Get(id)
			return ok && !cl.Closed()
		})
	}
	s.Connected = int(atomic.LoadInt64(&b.srv.Info.ClientsConnected))
	return s
}

// Addr returns the address the broker listens on, "127.0.0.1:1883".
func (b *Broker) Addr() string { return b.tcp.Address() }

// URL returns the broker's URL for an MQTT client: "mqtt://" + Addr, or
// "mqtts://" + Addr when it serves TLS.
func (b *Broker) URL() string {
	if b.tls {
		return "mqtts://" + b.Addr()
	}
	return "mqtt://" + b.Addr()
}

// Close disconnects every client (DISCONNECT "server shutting down"),
// stops listening and waits for the clients' goroutines to end.
func (b *Broker) Close() error {
	b.tcp.Quiesce() // mochi's Close would race a connection being accepted
	if err := b.srv.Close(); err != nil {
		return fmt.Errorf("broker: close: %w", err)
	}
	return nil
}

// limited passes on to h one record a minute per level and message,
// the next saying how many it suppressed: mochi's lines are per client
// or per packet, which the broker's clients send as they like, and its
// messages are fixed texts.
func limited(h slog.Handler) slog.Handler {
	return lograte.NewHandler(h, lograte.Config{}, func(r slog.Record) string { return r.Level.String() + " " + r.Message })
}

// quiet passes mochi's records at warn level and above; the others only
// when the logger is enabled at debug level. It names the records that
// mochi's listener writes with no message, demotes to debug those and the
// warning of a client that disconnects asking for its Will (normal), and
// drops the packets mochi attaches to some records, which hold payloads.
type quiet struct{ h slog.Handler }

func (q quiet) Enabled(ctx context.Context, l slog.Level) bool {
	return q.h.Enabled(ctx, l) && (l >= slog.LevelWarn || q.h.Enabled(ctx, slog.LevelDebug))
}

func (q quiet) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, "broker: "+r.Message, r.PC)
	if r.Message == "" {
		// The listener's record of every session that ended with an
		// error, a client's DISCONNECT with its Will included.
		out.Level, out.Message = slog.LevelDebug, "broker: client session ended"
	}
	r.Attrs(func(a slog.Attr) bool {
		if err, ok := a.Value.Any().(error); ok && errors.Is(err, packets.CodeDisconnectWillMessage) {
			// A client that stops and asks for its Will (the agent's
			// uplink does): normal, though mochi warns.
			out.Level = slog.LevelDebug
		}
		if a.Key != "pk" {
			out.AddAttrs(a)
		}
		return true
	})
	if !q.h.Enabled(ctx, out.Level) {
		return nil
	}
	return q.h.Handle(ctx, out)
}

func (q quiet) WithAttrs(as []slog.Attr) slog.Handler { return quiet{q.h.WithAttrs(as)} }
func (q quiet) WithGroup(name string) slog.Handler    { return quiet{q.h.WithGroup(name)} }
