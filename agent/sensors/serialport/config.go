package serialport

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"
)

// Parity is a port's parity: [ParityNone], [ParityEven] or [ParityOdd].
type Parity string

// Parities.
const (
	ParityNone Parity = "none"
	ParityEven Parity = "even"
	ParityOdd  Parity = "odd"
)

// String returns the parity's name.
func (p Parity) String() string { return string(p) }

// Defaults.
const (
	DefaultBaud      = 9600
	DefaultDataBits  = 8
	DefaultParity    = ParityNone
	DefaultStopBits  = 1
	DefaultReopenMin = time.Second
	DefaultReopenMax = 30 * time.Second
	// MaxBaud is the highest baud rate Config accepts.
	MaxBaud = 4_000_000
)

// Config configures a [Port]. Zero values mean the defaults.
type Config struct {
	// Path is the device: /dev/ttyUSB0, or better a stable
	// /dev/serial/by-id/... symlink, followed at each open. Required.
	Path string
	// Baud is the bit rate. Default 9600, at most MaxBaud.
	Baud int
	// DataBits is 7 or 8. Default 8.
	DataBits int
	// Parity is "none", "even" or "odd". Default "none".
	Parity Parity
	// StopBits is 1 or 2. Default 1.
	StopBits int
	// ReopenMin and ReopenMax bound the wait between two attempts to open
	// the port after a failed one: it doubles from ReopenMin after each
	// failure, up to ReopenMax, less up to 20 % of jitter. Defaults 1s and
	// 30s; ReopenMax must not be below ReopenMin.
	ReopenMin, ReopenMax time.Duration
	// Logger receives "serial port unavailable", "serial port lost" and
	// "serial port reopened", once per outage, and at most once a minute
	// each for a device that comes and goes, the next line saying how
	// many were suppressed. Default: discard.
	Logger *slog.Logger
}

// DefaultConfig returns a Config with every default, and no Path.
func DefaultConfig() Config {
	return Config{
		Baud:      DefaultBaud,
		DataBits:  DefaultDataBits,
		Parity:    DefaultParity,
		StopBits:  DefaultStopBits,
		ReopenMin: DefaultReopenMin,
		ReopenMax: DefaultReopenMax,
		Logger:    slog.New(slog.DiscardHandler),
	}
}

// withDefaults returns c with its zero values replaced by the defaults.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Baud == 0 {
		c.Baud = d.Baud
	}
	if c.DataBits == 0 {
		c.DataBits = d.DataBits
	}
	if c.Parity == "" {
		c.Parity = d.Parity
	}
	if c.StopBits == 0 {
		c.StopBits = d.StopBits
	}
	if c.ReopenMin == 0 {
		c.ReopenMin = d.ReopenMin
	}
	if c.ReopenMax == 0 {
		c.ReopenMax = max(d.ReopenMax, c.ReopenMin)
	}
	if c.Logger == nil {
		c.Logger = d.Logger
	}
	if c.Path != "" {
		c.Path = filepath.Clean(c.Path)
	}
	return c
}

// Validate checks c, its zero values standing for the defaults, and
// returns every problem, each naming the field.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("serialport: config: "+format, args...))
	}
	if c.Path == "" {
		bad("Path is required")
	}
	if c.Baud < 0 || c.Baud > MaxBaud {
		bad("Baud %d must be between 1 and %d", c.Baud, MaxBaud)
	}
	if c.DataBits != 7 && c.DataBits != 8 {
		bad("DataBits %d must be 7 or 8", c.DataBits)
	}
	switch c.Parity {
	case ParityNone, ParityEven, ParityOdd:
	default:
		bad("Parity %q must be %q, %q or %q", c.Parity, ParityNone, ParityEven, ParityOdd)
	}
	if c.StopBits != 1 && c.StopBits != 2 {
		bad("StopBits %d must be 1 or 2", c.StopBits)
	}
	if c.ReopenMin < 0 {
		bad("ReopenMin %v must be positive", c.ReopenMin)
	}
	if c.ReopenMax < c.ReopenMin {
		bad("ReopenMax %v must not be below ReopenMin %v", c.ReopenMax, c.ReopenMin)
	}
	return errors.Join(errs...)
}

// framing is how c puts bytes on the wire, as Ports compares it and the
// error naming a conflict reads: "9600 8N1".
func (c Config) framing() string {
	return fmt.Sprintf("%d %d%c%d", c.Baud, c.DataBits, c.Parity[0]-'a'+'A', c.StopBits)
}
