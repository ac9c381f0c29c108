package ads1115

import (
	"fmt"
	"slices"

	"github.com/iot-hub/agent/agent/sensors/i2cbus"
	"github.com/iot-hub/agent/internal/confkeys"
)

// Settings are the keys of an ads1115 sensor in the configuration file.
// Zero values are keys left out, which SetDefaults fills in.
type Settings struct {
	// Bus is the I²C bus device. Default /dev/i2c-1.
	Bus string `yaml:"bus,omitempty"`
	// Address is the chip's: 0x48 (ADDR to GND, the default), 0x49
	// (VDD), 0x4a (SDA) or 0x4b (SCL).
	Address uint16 `yaml:"address,omitempty" limit:"0x48..0x4b"`
	// DataRate is the conversions a second: 8, 16, 32, 64, 128 (the
	// default), 250, 475 or 860. Slower is less noisy.
	DataRate int `yaml:"dataRate,omitempty" limit:"8..860"`
	// Channels are what is read, one reading each, at least one.
	Channels []Channel `yaml:"channels,omitempty"`
}

// Channel is one conversion: value = volts × Scale + Offset.
type Channel struct {
	// Metric names the reading. Required.
	Metric string `yaml:"metric"`
	// Input is AIN0..AIN3 against ground, or a pair: AIN0-AIN1,
	// AIN0-AIN3, AIN1-AIN3, AIN2-AIN3. Required.
	Input string `yaml:"input"`
	// Range is the full-scale range, in volts: 6.144, 4.096 (the
	// default), 2.048, 1.024, 0.512 or 0.256. An input never goes beyond
	// VDD + 0.3 V, whatever the range.
	Range float64 `yaml:"range,omitempty"`
	// Scale and Offset convert volts to the metric's unit. Defaults 1 and
	// 0.
	Scale  float64 `yaml:"scale,omitempty"`
	Offset float64 `yaml:"offset,omitempty"`
	// Unit is the metric's UCUM unit. Default V.
	Unit string `yaml:"unit,omitempty"`
}

// Defaults.
const (
	DefaultBus      = "/dev/i2c-1"
	DefaultAddress  = 0x48
	DefaultDataRate = 128
	DefaultRange    = 4.096
)

// muxes are the MUX[14:12] codes of the inputs.
var muxes = map[string]uint16{
	"AIN0-AIN1": 0b000, "AIN0-AIN3": 0b001, "AIN1-AIN3": 0b010, "AIN2-AIN3": 0b011,
	"AIN0": 0b100, "AIN1": 0b101, "AIN2": 0b110, "AIN3": 0b111,
}

// ranges are the PGA[11:9] codes of the full-scale ranges.
var ranges = map[float64]uint16{6.144: 0b000, 4.096: 0b001, 2.048: 0b010, 1.024: 0b011, 0.512: 0b100, 0.256: 0b101}

// rates are the DR[7:5] codes of the data rates.
var rates = map[int]uint16{8: 0b000, 16: 0b001, 32: 0b010, 64: 0b011, 128: 0b100, 250: 0b101, 475: 0b110, 860: 0b111}

// SetDefaults fills in the keys left out of s.
func (s *Settings) SetDefaults() {
	confkeys.SetDefault(&s.Bus, DefaultBus)
	confkeys.SetDefault(&s.Address, DefaultAddress)
	confkeys.SetDefault(&s.DataRate, DefaultDataRate)
	for i := range s.Channels {
		c := &s.Channels[i]
		confkeys.SetDefault(&c.Range, DefaultRange)
		confkeys.SetDefault(&c.Scale, 1)
		confkeys.SetDefault(&c.Unit, "V")
	}
}

// Validate reports the first key of s, defaults filled in, that is
// wrong, as a *confkeys.FieldError.
func (s Settings) Validate() error {
	if err := i2cbus.ValidateBusKey(s.Bus); err != nil {
		return err
	}
	if _, ok := rates[s.DataRate]; !ok {
		return confkeys.Invalid("dataRate", "%d: want 8, 16, 32, 64, 128, 250, 475 or 860", s.DataRate)
	}
	if len(s.Channels) == 0 {
		return confkeys.Invalid("channels", "required: at least one")
	}
	seen := map[string]bool{}
	for i, c := range s.Channels {
		at := fmt.Sprintf("channels[%d].", i)
		switch _, known := muxes[c.Input]; {
		case c.Metric == "":
			return confkeys.Invalid(at+"metric", "required")
		case seen[c.Metric]:
			return confkeys.Invalid(at+"metric", "%q is read by another channel", c.Metric)
		case !known:
			keys := make([]string, 0, len(muxes))
			for k := range muxes {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			return confkeys.Invalid(at+"input", "%q: want one of %v", c.Input, keys)
		}
		if _, ok := ranges[c.Range]; !ok {
			return confkeys.Invalid(at+"range", "%v: want 6.144, 4.096, 2.048, 1.024, 0.512 or 0.256", c.Range)
		}
		seen[c.Metric] = true
	}
	return nil
}

// Config returns the configuration of s's sensor, named name, on bus.
func (s Settings) Config(name string, bus *i2cbus.Bus) Config {
	return Config{Name: name, Bus: bus, Address: s.Address, DataRate: s.DataRate, Channels: slices.Clone(s.Channels)}
}
