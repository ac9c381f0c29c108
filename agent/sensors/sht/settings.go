package sht

import (
	"github.com/iot-hub/agent/agent/sensors/i2cbus"
	"github.com/iot-hub/agent/internal/confkeys"
)

// Settings are the keys of an sht3x or sht4x sensor in the configuration
// file. Zero values are keys left out, which SetDefaults fills in.
type Settings struct {
	// Bus is the I²C bus device. Default /dev/i2c-1 (DefaultBus), the
	// Raspberry Pi's header.
	Bus string `yaml:"bus,omitempty"`
	// Address is the chip's address: 0x44 (the default), 0x45 (an SHT3x
	// with ADDR high, an SHT4x-B) or 0x46 (an SHT4x-C).
	Address uint16 `yaml:"address,omitempty" limit:"0x44..0x46"`
}

// DefaultBus is the default Settings.Bus.
const DefaultBus = "/dev/i2c-1"

// DefaultAddress is the default Settings.Address.
const DefaultAddress = 0x44

// SetDefaults fills in the keys left out of s.
func (s *Settings) SetDefaults() {
	confkeys.SetDefault(&s.Bus, DefaultBus)
	confkeys.SetDefault(&s.Address, DefaultAddress)
}

// Validate reports the first key of s, defaults filled in, that is wrong
// for chip, as a *confkeys.FieldError.
func (s Settings) Validate(chip Chip) error {
	if err := i2cbus.ValidateBusKey(s.Bus); err != nil {
		return err
	}
	switch {
	case chip.name == SHT3x.name && s.Address == 0x46:
		return confkeys.Invalid("address", "0x46: an SHT3x is at 0x44 or 0x45")
	}
	return nil
}

// Config returns the configuration of s's sensor of chip, named name, on
// bus.
func (s Settings) Config(name string, chip Chip, bus *i2cbus.Bus) Config {
	return Config{Name: name, Chip: chip, Bus: bus, Address: s.Address}
}
