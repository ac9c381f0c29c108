package bme280

import (
	"fmt"
	"log/slog"

	"periph.io/x/devices/v3/bmxx80"

	"github.com/iot-hub/agent/agent/sensors/i2cbus"
)

// Addresses a BME280 answers at, chosen by its SDO pin.
const (
	// AddressLow is the address with SDO to ground, the default.
	AddressLow = 0x76
	// AddressHigh is the address with SDO to VDDIO.
	AddressHigh = 0x77
)

// Off in an Oversampling field skips that measurement: the sensor
// reports no reading for it. Temperature cannot be off: pressure and
// humidity are compensated with it.
const Off = -1

// Config configures a Sensor. The zero value of every field but Name and
// Bus means its default; see DefaultConfig.
type Config struct {
	// Name is the sensor's name in telemetry. Required.
	Name string
	// Bus is the I²C bus the device is on. Required. The Sensor uses it
	// and never closes it.
	Bus *i2cbus.Bus
	// Address is the device's I²C address: 0x76 (default) or 0x77.
	Address uint16
	// Oversampling is how many samples each measurement averages.
	Oversampling Oversampling
	// Filter is the IIR filter's coefficient: 0 or 1 (off, the
	// default), 2, 4, 8 or 16. It smooths temperature and pressure over
	// the last reads (not humidity, which the chip never filters): with
	// coefficient c, a step change takes about c reads to show. Useful
	// against gusts and slammed doors when reading often; leave it off for
	// reads a minute apart.
	Filter int
	// Logger receives the sensor's log lines (one when it finds a BMP280).
	// Default: discard.
	// Its lines do not name the sensor: the caller's logger does
	// (With("sensor", name)).
	Logger *slog.Logger
}

// Oversampling is how many samples each of the three measurements
// averages: 1 (the default), 2, 4, 8 or 16, or Off for Pressure and
// Humidity. More samples lower the noise but lengthen the read (about 2
// ms per sample per measurement: 8 ms at 1×, 100 ms at 16×) and warm the
// chip a little.
//
// The yaml tags are the keys of a bme280 sensor's oversampling in the
// configuration file, where each is 1 to 16 (a value of the set, which
// Settings.Validate checks) and Off is not written.
type Oversampling struct {
	Temperature int `yaml:"temperature,omitempty" limit:"1..16"`
	Pressure    int `yaml:"pressure,omitempty" limit:"1..16"`
	Humidity    int `yaml:"humidity,omitempty" limit:"1..16"`
}

// DefaultConfig returns the configuration the zero Config stands for,
// without a Name or Bus: Bosch's recommended settings for weather
// monitoring (datasheet §3.5.1), 1× oversampling and no filter.
func DefaultConfig() Config {
	return Config{
		Address:      AddressLow,
		Oversampling: Oversampling{Temperature: 1, Pressure: 1, Humidity: 1},
		Logger:       slog.New(slog.DiscardHandler),
	}
}

// withDefaults returns c with its zero fields set to their defaults.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Address == 0 {
		c.Address = d.Address
	}
	if c.Oversampling.Temperature == 0 {
		c.Oversampling.Temperature = d.Oversampling.Temperature
	}
	if c.Oversampling.Pressure == 0 {
		c.Oversampling.Pressure = d.Oversampling.Pressure
	}
	if c.Oversampling.Humidity == 0 {
		c.Oversampling.Humidity = d.Oversampling.Humidity
	}
	if c.Logger == nil {
		c.Logger = d.Logger
	}
	return c
}

// Validate reports the first invalid field of c, wrapping
// ErrInvalidConfig, or nil. Zero fields are valid: they mean defaults.
func (c Config) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("bme280 %q: %s: %w", c.Name, fmt.Sprintf(format, a...), ErrInvalidConfig)
	}
	switch {
	case c.Name == "":
		return fmt.Errorf("bme280: Name is empty: %w", ErrInvalidConfig)
	case c.Bus == nil:
		return bad("Bus is nil")
	case c.Address != 0 && c.Address != AddressLow && c.Address != AddressHigh:
		return bad("Address is %#x; want 0x76 or 0x77", c.Address)
	}
	if _, ok := oversampling[c.Oversampling.Temperature]; !ok || c.Oversampling.Temperature == Off {
		return bad("Oversampling.Temperature is %d; want 1, 2, 4, 8 or 16", c.Oversampling.Temperature)
	}
	if _, ok := oversampling[c.Oversampling.Pressure]; !ok {
		return bad("Oversampling.Pressure is %d; want 1, 2, 4, 8, 16 or -1 (off)", c.Oversampling.Pressure)
	}
	if _, ok := oversampling[c.Oversampling.Humidity]; !ok {
		return bad("Oversampling.Humidity is %d; want 1, 2, 4, 8, 16 or -1 (off)", c.Oversampling.Humidity)
	}
	if _, ok := filters[c.Filter]; !ok {
		return bad("Filter is %d; want 0 (off), 2, 4, 8 or 16", c.Filter)
	}
	return nil
}

// oversampling maps Oversampling's values, 0 (default) included, to the
// register settings.
var oversampling = map[int]bmxx80.Oversampling{
	Off: bmxx80.Off, 0: bmxx80.O1x, 1: bmxx80.O1x, 2: bmxx80.O2x, 4: bmxx80.O4x, 8: bmxx80.O8x, 16: bmxx80.O16x,
}

// filters maps Filter's values to the register settings.
var filters = map[int]bmxx80.Filter{
	0: bmxx80.NoFilter, 1: bmxx80.NoFilter, 2: bmxx80.F2, 4: bmxx80.F4, 8: bmxx80.F8, 16: bmxx80.F16,
}

// opts returns bmxx80's options for c, which is valid: forced mode, so
// neither Filter nor Standby (bmxx80 writes the filter only in normal
// mode; Sensor writes it itself).
func (c Config) opts() bmxx80.Opts {
	return bmxx80.Opts{
		Temperature: oversampling[c.Oversampling.Temperature],
		Pressure:    oversampling[c.Oversampling.Pressure],
		Humidity:    oversampling[c.Oversampling.Humidity],
	}
}
