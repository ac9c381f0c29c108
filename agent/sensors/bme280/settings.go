package bme280

import (
	"log/slog"

	"github.com/iot-hub/agent/agent/sensors/i2cbus"
	"github.com/iot-hub/agent/internal/confkeys"
)

// Settings are the keys of a bme280 sensor in the configuration file.
// Zero values are keys left out, which SetDefaults fills in; the limit
// tags are the configuration's limits. They allow less than Config: no
// Off, no filter coefficient 1.
type Settings struct {
	// Bus is the I²C bus device. Default /dev/i2c-1 (DefaultBus), the
	// Raspberry Pi's header.
	Bus string `yaml:"bus,omitempty"`
	// Address is the chip's address: 0x76 (SDO low, the default) or
	// 0x77.
	Address uint16 `yaml:"address,omitempty" limit:"0x76..0x77"`
	// Oversampling of each measurement: 1, 2, 4, 8 or 16, default 1.
	// More is less noisy, slower and draws more current.
	Oversampling Oversampling `yaml:"oversampling,omitempty"`
	// Filter is the IIR filter's coefficient: 0, 2, 4, 8 or 16; 0, the
	// default, is no filter.
	Filter int `yaml:"filter,omitempty" limit:"0..16"`
}

// DefaultBus is the default Settings.Bus: the I²C bus of the Raspberry
// Pi's header.
const DefaultBus = "/dev/i2c-1"

// SetDefaults fills in the keys left out of s.
func (s *Settings) SetDefaults() {
	d := DefaultConfig()
	confkeys.SetDefault(&s.Bus, DefaultBus)
	confkeys.SetDefault(&s.Address, d.Address)
	confkeys.SetDefault(&s.Oversampling.Temperature, d.Oversampling.Temperature)
	confkeys.SetDefault(&s.Oversampling.Pressure, d.Oversampling.Pressure)
	confkeys.SetDefault(&s.Oversampling.Humidity, d.Oversampling.Humidity)
}

// Validate reports the first key of s, defaults filled in, that is
// wrong, as a *confkeys.FieldError: a Bus that is not an I²C bus device,
// or an oversampling or filter outside its set.
func (s Settings) Validate() error {
	o := s.Oversampling
	if err := i2cbus.ValidateBusKey(s.Bus); err != nil {
		return err
	}
	switch {
	case !oversamplingKey(o.Temperature):
		return confkeys.Invalid("oversampling.temperature", "%d: want 1, 2, 4, 8 or 16", o.Temperature)
	case !oversamplingKey(o.Pressure):
		return confkeys.Invalid("oversampling.pressure", "%d: want 1, 2, 4, 8 or 16", o.Pressure)
	case !oversamplingKey(o.Humidity):
		return confkeys.Invalid("oversampling.humidity", "%d: want 1, 2, 4, 8 or 16", o.Humidity)
	case s.Filter != 0 && s.Filter != 2 && s.Filter != 4 && s.Filter != 8 && s.Filter != 16:
		return confkeys.Invalid("filter", "%d: want 0 (off), 2, 4, 8 or 16", s.Filter)
	}
	return nil
}

// oversamplingKey reports whether n is an oversampling the configuration
// may give: 1, 2, 4, 8 or 16.
func oversamplingKey(n int) bool { return n == 1 || n == 2 || n == 4 || n == 8 || n == 16 }

// Config returns the configuration of s's sensor, named name, on bus,
// logging to log.
func (s Settings) Config(name string, bus *i2cbus.Bus, log *slog.Logger) Config {
	return Config{Name: name, Bus: bus, Address: s.Address, Oversampling: s.Oversampling, Filter: s.Filter, Logger: log}
}
