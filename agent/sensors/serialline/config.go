package serialline

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"

	"github.com/iot-hub/agent/agent/sensors/serialport"
	"github.com/iot-hub/agent/internal/confkeys"
)

// Defaults and limits.
const (
	DefaultFormat       = FormatJSON
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
	// Settings say what the device prints: the keys of a serial-line
	// sensor.
	Settings
	// Logger receives, at debug level, a line skipped (its first 64
	// bytes), one a minute per reason, the next saying how many were
	// suppressed (Skipped counts them all), and, at warn level, a line
	// when the port was closed under the sensor. The port logs its own losses. Default: discard.
	// Its lines do not name the sensor: the caller's logger does
	// (With("sensor", name)).
	Logger *slog.Logger
}

// Settings are the keys of a serial-line sensor in the configuration
// file, beside those of its port (serialport.Settings). The limit tags
// are the configuration's limits, which SetDefaults and Validate go
// with; Config.Validate, for Go callers, allows more.
type Settings struct {
	// Format is what the device prints, one record per line: FormatJSON
	// ("json", an object of numbers) or FormatKV ("kv", key=value pairs).
	// Required; in the configuration, default json.
	Format string `yaml:"format,omitempty"`
	// Units maps a metric to its UCUM unit ({temp: Cel, hum: "%"});
	// metrics not in it have no unit.
	Units map[string]string `yaml:"units,omitempty"`
	// MaxLineBytes is the longest line kept, without its end; longer ones
	// are skipped. Default 1KiB; in the configuration 16B to 64KiB, in Go
	// at most MaxMaxLineBytes.
	MaxLineBytes confkeys.Size `yaml:"maxLineBytes,omitempty" limit:"16B..64KiB"`
}

// SetDefaults fills in the keys left out of s.
func (s *Settings) SetDefaults() {
	confkeys.SetDefault(&s.Format, DefaultFormat)
	confkeys.SetDefault(&s.MaxLineBytes, DefaultMaxLineBytes)
}

// Validate reports the first key of s, defaults filled in, that is wrong,
// as a *confkeys.FieldError: a Format that is not one, or a unit given
// for an empty metric name.
func (s Settings) Validate() error {
	if s.Format != FormatJSON && s.Format != FormatKV {
		return confkeys.Invalid("format", "%q: want json or kv", s.Format)
	}
	for metric := range s.Units {
		if metric == "" {
			return confkeys.Invalid("units", "a unit for an empty metric name")
		}
	}
	return nil
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
