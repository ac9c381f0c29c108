package thermal

import "github.com/iot-hub/agent/internal/confkeys"

// Settings are the keys of a thermal sensor in the configuration file.
// Zero values mean the defaults.
type Settings struct {
	// Path is the directory of the thermal zones. Default
	// /sys/class/thermal (DefaultPath).
	Path string `yaml:"path,omitempty"`
}

// DefaultPath is where Linux lists the thermal zones.
const DefaultPath = "/sys/class/thermal"

// SetDefaults fills in the keys left out of s.
func (s *Settings) SetDefaults() {
	confkeys.SetDefault(&s.Path, DefaultPath)
}
