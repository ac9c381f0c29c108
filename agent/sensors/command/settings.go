package command

import (
	"github.com/iot-hub/agent/agent/sensors/serialline"
	"github.com/iot-hub/agent/internal/confkeys"
)

// Settings are the keys of an exec sensor in the configuration file.
// Zero values mean the defaults.
type Settings struct {
	// Command is the program's path and its arguments. Required. A path
	// without a slash is looked up in PATH (below).
	Command []string `yaml:"command"`
	// Format is what the program prints: serialline.FormatJSON ("json")
	// or serialline.FormatKV ("kv"). Default json.
	Format string `yaml:"format,omitempty"`
	// Units maps a metric to its UCUM unit; metrics not in it have none.
	Units map[string]string `yaml:"units,omitempty"`
	// MaxOutputBytes bounds what the program may write to stdout.
	// Default 64KiB; 1KiB to 1MiB.
	MaxOutputBytes confkeys.Size `yaml:"maxOutputBytes,omitempty" limit:"1KiB..1MiB"`
}

// DefaultMaxOutputBytes is the default of Settings.MaxOutputBytes.
const DefaultMaxOutputBytes = 64 << 10

// SetDefaults fills in the keys left out of s.
func (s *Settings) SetDefaults() {
	confkeys.SetDefault(&s.Format, serialline.FormatJSON)
	confkeys.SetDefault(&s.MaxOutputBytes, DefaultMaxOutputBytes)
}

// Validate reports the first key of s, defaults filled in, that is
// wrong, as a *confkeys.FieldError.
func (s Settings) Validate() error {
	switch {
	case len(s.Command) == 0 || s.Command[0] == "":
		return confkeys.Invalid("command", "required: the program's path, then its arguments")
	case s.Format != serialline.FormatJSON && s.Format != serialline.FormatKV:
		return confkeys.Invalid("format", "%q: want json or kv", s.Format)
	}
	for metric := range s.Units {
		if metric == "" {
			return confkeys.Invalid("units", "a unit for an empty metric name")
		}
	}
	return nil
}
