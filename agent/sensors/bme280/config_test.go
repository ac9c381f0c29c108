package bme280_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/iot-hub/agent/agent/sensors/bme280"
	"github.com/iot-hub/agent/agent/sensors/i2cbus"
)

func TestValidate(t *testing.T) {
	bus := i2cbus.Open(busPath, nil) // never opened: New does no I/O
	valid := func(f func(c *bme280.Config)) bme280.Config {
		c := bme280.Config{Name: "env", Bus: bus}
		f(&c)
		return c
	}
	for _, tt := range []struct {
		name string
		cfg  bme280.Config
		want string // in the error; "" for valid
	}{
		{"zero means defaults", valid(func(*bme280.Config) {}), ""},
		{"everything set", valid(func(c *bme280.Config) {
			c.Address, c.Filter = 0x77, 16
			c.Oversampling = bme280.Oversampling{Temperature: 2, Pressure: bme280.Off, Humidity: 16}
		}), ""},
		{"no name", valid(func(c *bme280.Config) { c.Name = "" }), "Name is empty"},
		{"no bus", valid(func(c *bme280.Config) { c.Bus = nil }), "Bus is nil"},
		{"address", valid(func(c *bme280.Config) { c.Address = 0x40 }), "Address is 0x40; want 0x76 or 0x77"},
		{"temperature off", valid(func(c *bme280.Config) { c.Oversampling.Temperature = bme280.Off }),
			"Oversampling.Temperature is -1; want 1, 2, 4, 8 or 16"},
		{"temperature 3", valid(func(c *bme280.Config) { c.Oversampling.Temperature = 3 }),
			"Oversampling.Temperature is 3; want 1, 2, 4, 8 or 16"},
		{"pressure 32", valid(func(c *bme280.Config) { c.Oversampling.Pressure = 32 }),
			"Oversampling.Pressure is 32; want 1, 2, 4, 8, 16 or -1 (off)"},
		{"humidity -2", valid(func(c *bme280.Config) { c.Oversampling.Humidity = -2 }),
			"Oversampling.Humidity is -2; want 1, 2, 4, 8, 16 or -1 (off)"},
		{"filter 3", valid(func(c *bme280.Config) { c.Filter = 3 }), "Filter is 3; want 0 (off), 2, 4, 8 or 16"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.want == "" {
				if err != nil {
					t.Errorf("Validate() = %v; want nil", err)
				}
				return
			}
			if !errors.Is(err, bme280.ErrInvalidConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v; want ErrInvalidConfig saying %q", err, tt.want)
			}
			if _, nerr := bme280.New(tt.cfg); nerr == nil || nerr.Error() != err.Error() {
				t.Errorf("New = %v; want Validate's error", nerr)
			}
		})
	}
}

func TestDefaultConfig(t *testing.T) {
	d := bme280.DefaultConfig()
	if d.Address != 0x76 || d.Oversampling != (bme280.Oversampling{Temperature: 1, Pressure: 1, Humidity: 1}) || d.Filter != 0 || d.Logger == nil {
		t.Errorf("DefaultConfig() = %+v; want 0x76, 1× everything, no filter, a logger", d)
	}
}
