package onewire

import (
	"github.com/iot-hub/agent/internal/confkeys"
)

// Settings are the keys of a 1-Wire sensor in the configuration file.
// Zero values mean the defaults.
type Settings struct {
	// Path is the directory of the 1-Wire devices. Default
	// /sys/bus/w1/devices (DefaultPath).
	Path string `yaml:"path,omitempty"`
	// Probes, when given, are the ids of the probes read
	// ("28-0316a2791cff"); one not on the bus fails. Default: every probe
	// found.
	Probes []string `yaml:"probes,omitempty"`
	// Names gives probes metric names ({28-0316a2791cff: flow}); a probe
	// not in it is named by its id.
	Names map[string]string `yaml:"names,omitempty"`
}

// DefaultPath is where Linux lists the 1-Wire devices.
const DefaultPath = "/sys/bus/w1/devices"

// SetDefaults fills in the keys left out of s.
func (s *Settings) SetDefaults() {
	confkeys.SetDefault(&s.Path, DefaultPath)
}

// Validate reports the first key of s that is wrong, as a
// *confkeys.FieldError: a probe id that is not one, or a name given
// twice or empty.
func (s Settings) Validate() error {
	for _, id := range s.Probes {
		if !isProbeID(id) {
			return confkeys.Invalid("probes", "%q is not a 1-Wire id: want family-serial, as 28-0316a2791cff", id)
		}
	}
	named := map[string]string{}
	for id, name := range s.Names {
		switch {
		case !isProbeID(id):
			return confkeys.Invalid("names", "%q is not a 1-Wire id: want family-serial, as 28-0316a2791cff", id)
		case name == "":
			return confkeys.Invalid("names", "%s: an empty name", id)
		case named[name] != "":
			return confkeys.Invalid("names", "%q names both %s and %s", name, named[name], id)
		}
		named[name] = id
	}
	return nil
}

// isProbeID reports whether s is a 1-Wire device id as sysfs names it:
// the family code and the 48-bit serial number in lowercase hex, joined
// by a dash.
func isProbeID(s string) bool {
	if len(s) != 15 || s[2] != '-' {
		return false
	}
	for i, c := range []byte(s) {
		if i != 2 && !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
