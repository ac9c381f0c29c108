package serialline

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"

	"github.com/iot-hub/agent/agent/sensors/serialport"
)

// Defaults and limits.
const (
	DefaultMaxLineBytes = 1024
	// MaxMaxLineBytes is the largest MaxLineBytes accepted.
	MaxMaxLineBytes = 1 << 20
)

// Config configures a [Sensor].
type Config struct {
	// Name is the sensor's name in telemetry. Required.
	Name string
	// Port is the serial port the device prints on, which the sensor
	// reads alone. The sensor does not own it: whoever made it closes it,
	// after the sensor. Required.
	Port *serialport.Port
	// Format is FormatJSON ("json") or FormatKV ("kv"). Required.
	Format string
	// Units maps a metric to its UCUM unit ("Cel", "%", "hPa"); metrics
	// not in it have no unit.
	Units map[string]string
	// MaxLineBytes is the longest line kept, without its end; longer ones
	// are skipped. Default 1024, at most MaxMaxLineBytes.
	MaxLineBytes int
	// Logger receives, at debug level, a line skipped (its first 64
	// bytes), one a minute per reason, the next saying how many were
	// suppressed (Skipped counts them all), and, at warn level, a line
	// when the port was closed under the sensor. The port logs its own losses. Default: discard.
	// Its lines do not name the sensor: the caller's logger does
	// (With("sensor", name)).
	Logger *slog.Logger
}

// withDefaults returns c with its zero values replaced by the defaults.
func (c Config) withDefaults() Config {
	if c.MaxLineBytes == 0 {
		c.MaxLineBytes = DefaultMaxLineBytes
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.Units = maps.Clone(c.Units)
	return c
}

// Validate checks c, its zero values standing for the defaults, and
// returns every problem, each naming the field.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("serialline: config: "+format, args...))
	}
	if c.Name == "" {
		bad("Name is required")
	}
	if c.Port == nil {
		bad("Port is required")
	}
	if c.Format != FormatJSON && c.Format != FormatKV {
		bad("Format %q must be %q or %q", c.Format, FormatJSON, FormatKV)
	}
	if c.MaxLineBytes < 1 || c.MaxLineBytes > MaxMaxLineBytes {
		bad("MaxLineBytes %d must be between 1 and %d", c.MaxLineBytes, MaxMaxLineBytes)
	}
	return errors.Join(errs...)
}
