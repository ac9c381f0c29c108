package health

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/iot-hub/agent/internal/clock"
)

// Config configures a Server. Zero values mean the defaults of
// DefaultConfig.
type Config struct {
	// Listen is the TCP address to serve: a loopback IP (127.0.0.0/8 or
	// ::1) and a port; port 0 picks a free one. Default
	// [DefaultListen].
	Listen string
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

// Defaults.
const (
	DefaultListen = "127.0.0.1:9464"
	DefaultGrace  = 60 * time.Second
)

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Listen: DefaultListen,
		Grace:  DefaultGrace,
		Logger: slog.New(slog.DiscardHandler),
		Clock:  clock.System,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Listen == "" {
		c.Listen = d.Listen
	}
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

// Validate reports the first field (after defaults) that is wrong, naming
// it and the limit. An address that is not a loopback IP wraps
// [ErrNotLoopback] too.
func (c Config) Validate() error {
	c = c.withDefaults()
	if err := checkListen(c.Listen); err != nil {
		return fmt.Errorf("%w: Listen %q: %w", ErrInvalidConfig, c.Listen, err)
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
