package drivers

import (
	"fmt"

	"github.com/iot-hub/agent/agent/sensors"
	"github.com/iot-hub/agent/agent/sensors/ads1115"
	"github.com/iot-hub/agent/agent/sensors/bme280"
	"github.com/iot-hub/agent/agent/sensors/command"
	"github.com/iot-hub/agent/agent/sensors/gpio"
	"github.com/iot-hub/agent/agent/sensors/modbus"
	"github.com/iot-hub/agent/agent/sensors/onewire"
	"github.com/iot-hub/agent/agent/sensors/serialline"
	"github.com/iot-hub/agent/agent/sensors/serialport"
	"github.com/iot-hub/agent/agent/sensors/sht"
	"github.com/iot-hub/agent/agent/sensors/sim"
	"github.com/iot-hub/agent/agent/sensors/thermal"
	"github.com/iot-hub/agent/internal/confkeys"
)

// registry is the sensor types, in the order messages name them. A type's
// keys, their defaults and rules are its package's Settings: adding a key
// changes that package only.
var registry = []driver{
	typeOf("sim", noPort,
		func(k *sim.Settings, _ *Sensor) { k.SetDefaults() },
		func(k *sim.Settings, s *Sensor) error { return k.Validate(s.Interval) },
		func(set *Set, s *Sensor, k *sim.Settings, _ *serialport.Port) (sensors.Sensor, error) {
			return sim.New(sim.Config{Name: s.Name, StateDir: set.stateDir, Settings: *k, Logger: set.log})
		}),
	typeOf("thermal", noPort,
		func(k *thermal.Settings, _ *Sensor) { k.SetDefaults() },
		nil,
		func(_ *Set, s *Sensor, k *thermal.Settings, _ *serialport.Port) (sensors.Sensor, error) {
			return thermal.New(thermal.Config{Name: s.Name, Settings: *k})
		}),
	typeOf("modbus-rtu", portShared,
		func(k *modbus.Settings, s *Sensor) { k.SetDefaults(s.Timeout) },
		func(k *modbus.Settings, s *Sensor) error { return k.Validate(s.Timeout) },
		func(set *Set, s *Sensor, k *modbus.Settings, port *serialport.Port) (sensors.Sensor, error) {
			return modbus.New(modbus.Config{Name: s.Name, Port: port, Settings: *k, Logger: set.log.With("sensor", s.Name)})
		}),
	typeOf("modbus-tcp", noPort,
		func(k *modbus.TCPSettings, s *Sensor) { k.SetDefaults(s.Timeout) },
		func(k *modbus.TCPSettings, s *Sensor) error { return k.Validate(s.Timeout) },
		func(set *Set, s *Sensor, k *modbus.TCPSettings, _ *serialport.Port) (sensors.Sensor, error) {
			return modbus.New(modbus.Config{Name: s.Name, Server: set.servers.Get(k.Server, k.Framing), Settings: k.Settings(),
				Logger: set.log.With("sensor", s.Name)})
		}),
	typeOf("serial-line", portAlone,
		func(k *serialline.Settings, _ *Sensor) { k.SetDefaults() },
		func(k *serialline.Settings, _ *Sensor) error { return k.Validate() },
		func(set *Set, s *Sensor, k *serialline.Settings, port *serialport.Port) (sensors.Sensor, error) {
			return serialline.New(serialline.Config{Name: s.Name, Port: port, Settings: *k, Logger: set.log.With("sensor", s.Name)})
		}),
	typeOf("bme280", noPort,
		func(k *bme280.Settings, _ *Sensor) { k.SetDefaults() },
		func(k *bme280.Settings, _ *Sensor) error { return k.Validate() },
		func(set *Set, s *Sensor, k *bme280.Settings, _ *serialport.Port) (sensors.Sensor, error) {
			return bme280.New(k.Config(s.Name, set.buses.Get(k.Bus), set.log.With("sensor", s.Name)))
		}),
	typeOf("ds18b20", noPort,
		func(k *onewire.Settings, _ *Sensor) { k.SetDefaults() },
		func(k *onewire.Settings, _ *Sensor) error { return k.Validate() },
		func(_ *Set, s *Sensor, k *onewire.Settings, _ *serialport.Port) (sensors.Sensor, error) {
			return onewire.New(onewire.Config{Name: s.Name, Settings: *k})
		}),
	typeOf("ads1115", noPort,
		func(k *ads1115.Settings, _ *Sensor) { k.SetDefaults() },
		func(k *ads1115.Settings, _ *Sensor) error { return k.Validate() },
		func(set *Set, s *Sensor, k *ads1115.Settings, _ *serialport.Port) (sensors.Sensor, error) {
			return ads1115.New(k.Config(s.Name, set.buses.Get(k.Bus)))
		}),
	shtType(sht.SHT3x),
	shtType(sht.SHT4x),
	typeOf("gpio-input", noPort,
		func(k *gpio.InputSettings, _ *Sensor) { k.SetDefaults() },
		func(k *gpio.InputSettings, _ *Sensor) error { return k.Validate() },
		func(_ *Set, s *Sensor, k *gpio.InputSettings, _ *serialport.Port) (sensors.Sensor, error) {
			return gpio.NewInput(s.Name, *k, nil)
		}),
	typeOf("gpio-counter", noPort,
		func(k *gpio.CounterSettings, _ *Sensor) { k.SetDefaults() },
		func(k *gpio.CounterSettings, _ *Sensor) error { return k.Validate() },
		func(set *Set, s *Sensor, k *gpio.CounterSettings, _ *serialport.Port) (sensors.Sensor, error) {
			return gpio.NewCounter(s.Name, set.stateDir, *k, nil)
		}),
	typeOf("exec", noPort,
		func(k *command.Settings, _ *Sensor) { k.SetDefaults() },
		func(k *command.Settings, _ *Sensor) error { return k.Validate() },
		func(_ *Set, s *Sensor, k *command.Settings, _ *serialport.Port) (sensors.Sensor, error) {
			return command.New(command.Config{Name: s.Name, Settings: *k})
		}),
}

// shtType is the driver of a Sensirion chip.
func shtType(chip sht.Chip) driver {
	return typeOf(chip.String(), noPort,
		func(k *sht.Settings, _ *Sensor) { k.SetDefaults() },
		func(k *sht.Settings, _ *Sensor) error { return k.Validate(chip) },
		func(set *Set, s *Sensor, k *sht.Settings, _ *serialport.Port) (sensors.Sensor, error) {
			return sht.New(k.Config(s.Name, chip, set.buses.Get(k.Bus)))
		})
}

// portUse is how the sensors of a type use a serial port.
type portUse int

const (
	noPort     portUse = iota // not on a serial port
	portShared                // on a port they share: the slaves of an RS-485 line
	portAlone                 // on a port of their own: a device that prints
)

// driver is a sensor type: the keys of its sensors beside the common
// ones, and how such a sensor is opened.
type driver struct {
	name string
	port portUse
	// settings returns the type's keys, none given: a pointer to its
	// package's Settings.
	settings func() any
	// setDefaults fills in the type's keys of s left out.
	setDefaults func(s *Sensor)
	// validate reports the first of the type's keys of s that is wrong.
	validate func(s *Sensor) error
	// open makes the sensor of s, on port when the type is on one.
	open func(set *Set, s *Sensor, port *serialport.Port) (sensors.Sensor, error)
}

// typeOf returns the driver of the type name, whose keys are a *K: the
// functions are given the sensor's keys (validate may be nil: no rules
// beyond the limits).
func typeOf[K any](name string, port portUse,
	setDefaults func(k *K, s *Sensor),
	validate func(k *K, s *Sensor) error,
	open func(set *Set, s *Sensor, k *K, port *serialport.Port) (sensors.Sensor, error),
) driver {
	keysOf := func(s *Sensor) (*K, error) {
		k, ok := s.Settings.(*K)
		if !ok {
			return nil, fmt.Errorf("the keys of a %s sensor are a %T, not a %T", name, s.Settings, k)
		}
		return k, nil
	}
	return driver{
		name:     name,
		port:     port,
		settings: func() any { return new(K) },
		setDefaults: func(s *Sensor) {
			if k, err := keysOf(s); err == nil {
				setDefaults(k, s)
			}
		},
		validate: func(s *Sensor) error {
			k, err := keysOf(s)
			if err != nil || validate == nil {
				return err
			}
			return validate(k, s)
		},
		open: func(set *Set, s *Sensor, port *serialport.Port) (sensors.Sensor, error) {
			k, err := keysOf(s)
			if err != nil {
				return nil, err
			}
			return open(set, s, k, port)
		},
	}
}

// newKeys returns new keys of the type, none given: its serial port's
// (nil when it is on none), and its own.
func (d driver) newKeys() (*serialport.Settings, any) {
	var serial *serialport.Settings
	if d.port != noPort {
		serial = &serialport.Settings{}
	}
	return serial, d.settings()
}

// keys returns the keys of the type beside the common ones, in the order
// check-config prints them.
func (d driver) keys() []string {
	serial, settings := d.newKeys()
	var keys []string
	if serial != nil {
		keys = confkeys.Keys(serial)
	}
	return append(keys, confkeys.Keys(settings)...)
}

// driverOf returns the driver of the type name.
func driverOf(name string) (driver, bool) {
	for _, d := range registry {
		if d.name == name {
			return d, true
		}
	}
	return driver{}, false
}

// Types returns the sensor types, in the order messages name them.
func Types() []string {
	names := make([]string, len(registry))
	for i, d := range registry {
		names[i] = d.name
	}
	return names
}

// NewKeys returns the keys of a sensor of type typ beside the common ones,
// none given: its serial port's (nil for a type not on one), and a
// pointer to its driver package's Settings (nil for an unknown type).
func NewKeys(typ string) (serial *serialport.Settings, settings any) {
	d, ok := driverOf(typ)
	if !ok {
		return nil, nil
	}
	return d.newKeys()
}
