package sim

import (
	"time"

	"github.com/iot-hub/agent/internal/confkeys"
)

// Settings are the keys of a sim sensor in the configuration file, and
// the Config fields that shape its readings. Zero values mean the
// defaults; the limit tags are the configuration's limits.
type Settings struct {
	// Period is the period of the simulated sine waves. Default 10m
	// (DefaultPeriod); in the configuration, at least 1s.
	Period time.Duration `yaml:"period,omitempty" limit:"1s.."`
	// ReadDelay makes each read wait this long before it reads, or until
	// its context (the read's timeout) ends: then the read fails with the
	// context's error and seq does not advance. A slow sensor, for demos
	// and tests of what waits on sensors. From 0s, the default, no wait,
	// to below the interval the sensor is read at; negative is refused.
	ReadDelay time.Duration `yaml:"readDelay,omitempty" limit:"0s..interval"`
}

// DefaultPeriod is the default Settings.Period.
const DefaultPeriod = 10 * time.Minute

// SetDefaults fills in the keys left out of s.
func (s *Settings) SetDefaults() {
	confkeys.SetDefault(&s.Period, DefaultPeriod)
}

// Validate reports the key of s, a sensor read every interval, that is
// wrong, as a *confkeys.FieldError: a ReadDelay that is not below the
// interval, which bounds every read.
func (s Settings) Validate(interval time.Duration) error {
	if s.ReadDelay >= interval {
		return confkeys.Invalid("readDelay", "%v is not below the interval, %v, which bounds every read", s.ReadDelay, interval)
	}
	return nil
}
