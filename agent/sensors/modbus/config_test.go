package modbus_test

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/sensors/modbus"
	"github.com/iot-hub/agent/agent/sensors/serialport"
	"github.com/iot-hub/agent/internal/confkeys"
)

func TestNewRefuses(t *testing.T) {
	port, err := serialport.New(serialport.Config{Path: "/dev/ttyUSB0", Baud: 9600}) // never opened
	if err != nil {
		t.Fatal(err)
	}
	reg := modbus.Register{Metric: "m", Function: modbus.HoldingRegisters, Address: 0, Type: modbus.Uint16}
	good := func() modbus.Config {
		return modbus.Config{Name: "meter", Port: port, Settings: modbus.Settings{Slave: 1, Registers: []modbus.Register{reg}}}
	}
	withReg := func(f func(r *modbus.Register)) modbus.Config {
		c := good()
		c.Registers = []modbus.Register{reg, reg}
		c.Registers[1].Metric = "n"
		f(&c.Registers[1])
		return c
	}
	for _, tc := range []struct {
		name string
		cfg  modbus.Config
		want string
	}{
		{"name", modbus.Config{Port: port, Settings: modbus.Settings{Slave: 1, Registers: []modbus.Register{reg}}}, "modbus: name: required"},
		{"port", modbus.Config{Name: "x", Settings: modbus.Settings{Slave: 1, Registers: []modbus.Register{reg}}}, "modbus: port: required"},
		{"slave 0", modbus.Config{Name: "x", Port: port, Settings: modbus.Settings{Registers: []modbus.Register{reg}}}, "modbus: slave: required: the slave's address, 1..247"},
		{"slave 248", modbus.Config{Name: "x", Port: port, Settings: modbus.Settings{Slave: 248, Registers: []modbus.Register{reg}}}, "modbus: slave: 248 is outside 1..247"},
		{"no registers", modbus.Config{Name: "x", Port: port, Settings: modbus.Settings{Slave: 1}}, "modbus: registers: required: at least one register per sensor"},
		{"metric", withReg(func(r *modbus.Register) { r.Metric = "" }), "modbus: registers[1].metric: required"},
		{"metric twice", withReg(func(r *modbus.Register) { r.Metric = "m" }), `modbus: registers[1].metric: "m" is also the metric of registers[0]`},
		{"function", withReg(func(r *modbus.Register) { r.Function = 6 }), "modbus: registers[1].function: 6 is outside 3..4"},
		{"no function", withReg(func(r *modbus.Register) { r.Function = 0 }), "modbus: registers[1].function: 0 is outside 3..4"},
		{"type", withReg(func(r *modbus.Register) { r.Type = "int64" }), `modbus: registers[1].type: "int64": want int16, uint16, int32, uint32 or float32`},
		{"no type", withReg(func(r *modbus.Register) { r.Type = "" }), `modbus: registers[1].type: "": want int16, uint16, int32, uint32 or float32`},
		{"word order", withReg(func(r *modbus.Register) { r.WordOrder = "middle" }), `modbus: registers[1].wordOrder: "middle": want big or little`},
		{"address", withReg(func(r *modbus.Register) { r.Address, r.Type = 65535, modbus.Float32 }), "modbus: registers[1].address: 65535: a float32 takes two registers, and there is none after it"},
		{"scale", withReg(func(r *modbus.Register) { r.Scale = math.Inf(1) }), "modbus: registers[1].scale: +Inf is not a finite number"},
		{"offset", withReg(func(r *modbus.Register) { r.Offset = math.NaN() }), "modbus: registers[1].offset: NaN is not a finite number"},
		{"timeout negative", func() modbus.Config { c := good(); c.ResponseTimeout = -time.Second; return c }(), "modbus: responseTimeout: -1s is outside 1ms..timeout"},
		{"timeout long", func() modbus.Config { c := good(); c.ResponseTimeout = time.Hour; return c }(), "modbus: responseTimeout: 1h0m0s is above 1m0s, the longest a Modbus request waits"},
		{"timeout short", func() modbus.Config {
			c := good()
			c.ResponseTimeout = 100 * time.Millisecond
			for a := uint16(1); a < 125; a++ { // one request of 125 registers
				c.Registers = append(c.Registers, modbus.Register{Metric: fmt.Sprint(a), Function: modbus.HoldingRegisters, Address: a, Type: modbus.Uint16})
			}
			return c
		}(), "modbus: responseTimeout: 100ms is shorter than the 292.1875ms a response of 255 bytes takes at 9600 baud: every request would end in a timeout"},
		{"retries", func() modbus.Config { c := good(); c.Retries = new(11); return c }(), "modbus: retries: 11 is outside 0..10"},
		{"retries negative", func() modbus.Config { c := good(); c.Retries = new(-2); return c }(), "modbus: retries: -2 is outside 0..10"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := modbus.New(tc.cfg)
			var fe *confkeys.FieldError
			if s != nil || !errors.Is(err, modbus.ErrInvalidConfig) || !errors.As(err, &fe) || err.Error() != tc.want {
				t.Errorf("New = %v, %v; want %s", s, err, tc.want)
			}
		})
	}
	for _, cfg := range []modbus.Config{
		good(),
		func() modbus.Config {
			c := good()
			c.ResponseTimeout, c.Retries = modbus.MaxTimeout, new(0)
			return c
		}(),
		func() modbus.Config { c := good(); c.Slave, c.Retries = 247, new(modbus.MaxRetries); return c }(),
		withReg(func(r *modbus.Register) { r.Address, r.Type, r.WordOrder = 65534, modbus.Uint32, modbus.LowWordFirst }),
	} {
		if s, err := modbus.New(cfg); err != nil || s.Name() != cfg.Name {
			t.Errorf("New(%+v) = %v, %v; want a sensor", cfg, s, err)
		}
	}
}
