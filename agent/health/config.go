package health

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/iot-hub/agent/internal/clock"
	"github.com/iot-hub/agent/internal/confkeys"
)

// Config configures a Server. Zero values mean the defaults of
// DefaultConfig.
type Config struct {
	// Settings are the keys of the configuration file's health section:
	// whether the agent serves the endpoint, and where.
	Settings
	// Grace is how long the uplink may be disconnected before /healthz
	// says unhealthy. Default [DefaultGrace].
	Grace time.Duration
	// Logger receives the server's errors; those of requests (net/http's
	// included), one a minute at most. Default: discard.
	Logger *slog.Logger
	// Clock is the time the server reports ages by and paces its log
	// lines by. Default clock.System.
	Clock clock.Clock
}

// Settings are the keys of the health section of the agent's
// configuration file: the local health and metrics endpoint, /healthz
// and /metrics (Prometheus), over HTTP without authentication, for the
// gateway itself. Zero values are keys left out, which SetDefaults fills
// in.
type Settings struct {
	// Enabled serves the endpoint: the agent starts a Server only when it
	// is set, which Listen does not read. Default false.
	Enabled bool `yaml:"enabled"`
	// Listen is the TCP address to serve: a loopback IP (127.0.0.0/8 or
	// ::1) and a port; any other address is refused, and port 0 picks a
	// free one. Default [DefaultListen].
	Listen string `yaml:"listen"`
}

// Defaults.
const (
	DefaultListen = "127.0.0.1:9464"
	DefaultGrace  = 60 * time.Second
)

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	c := Config{Grace: DefaultGrace, Logger: slog.New(slog.DiscardHandler), Clock: clock.System}
	c.Settings.SetDefaults()
	return c
}

// SetDefaults fills in the keys left out of s.
func (s *Settings) SetDefaults() {
	confkeys.SetDefault(&s.Listen, DefaultListen)
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	c.Settings.SetDefaults()
	if c.Grace == 0 {
		c.Grace = d.Grace
	}
	if c.Logger == nil {
		c.Logger = d.Logger
	}
	if c.Clock == nil {
		c.Clock = d.Clock
	}
	return c
}

// Validate reports the first key of s (defaults filled in) that is
// wrong, as a *confkeys.FieldError at the key's path ("listen") wrapping
// ErrInvalidConfig: a Listen that is not a loopback IP and a port, which
// wraps [ErrNotLoopback] too when the host is not a loopback IP. Its
// message names the field, as Go callers set it.
func (s Settings) Validate() error {
	if err := checkListen(s.Listen); err != nil {
		return &confkeys.FieldError{Path: "listen", Msg: fmt.Sprintf("Listen %q: %v", s.Listen, err), Err: fmt.Errorf("%w: %w", ErrInvalidConfig, err)}
	}
	return nil
}

// Validate reports the first field (after defaults) that is wrong,
// naming it and the limit: the Settings' (Settings.Validate's
// *confkeys.FieldError), or a negative Grace.
func (c Config) Validate() error {
	c = c.withDefaults()
	if err := c.Settings.Validate(); err != nil {
		return err
	}
	if c.Grace < 0 {
		return fmt.Errorf("%w: Grace %v is negative", ErrInvalidConfig, c.Grace)
	}
	return nil
}

// checkListen checks that addr is a loopback IP and a port.
func checkListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("not host:port: %w", err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q is not 0..65535", port)
	}
	ip, err := netip.ParseAddr(host)
	switch {
	case host == "":
		return fmt.Errorf("%w: no host means every interface; write 127.0.0.1 or ::1", ErrNotLoopback)
	case err != nil:
		return fmt.Errorf("%w: %q is not an IP address; write 127.0.0.1 or ::1", ErrNotLoopback, host)
	case !ip.IsLoopback():
		return fmt.Errorf("%w: %s is not in 127.0.0.0/8 or ::1, and the endpoint, without authentication, is for the gateway itself", ErrNotLoopback, ip)
	}
	return nil
}
