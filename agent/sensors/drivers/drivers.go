package drivers

import (
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/iot-hub/agent/agent/config"
	"github.com/iot-hub/agent/agent/sensors"
	"github.com/iot-hub/agent/agent/sensors/bme280"
	"github.com/iot-hub/agent/agent/sensors/i2cbus"
	"github.com/iot-hub/agent/agent/sensors/modbus"
	"github.com/iot-hub/agent/agent/sensors/serialline"
	"github.com/iot-hub/agent/agent/sensors/serialport"
	"github.com/iot-hub/agent/agent/sensors/sim"
	"github.com/iot-hub/agent/agent/sensors/thermal"
	"github.com/iot-hub/agent/internal/confkeys"
)

// opener makes the sensor of one configuration entry.
type opener func(s *Set, sc config.Sensor) (sensors.Sensor, error)

// openers are the drivers, by the configuration's type.
var openers = map[string]opener{
	config.SensorSim:        (*Set).openSim,
	config.SensorThermal:    (*Set).openThermal,
	config.SensorModbusRTU:  (*Set).openModbus,
	config.SensorSerialLine: (*Set).openSerialLine,
	config.SensorBME280:     (*Set).openBME280,
}

// Set is the sensors of a configuration, with the ports and buses they
// share.
type Set struct {
	// Schedules are the sensors to sample, in the configuration's order.
	Schedules []sensors.Schedule

	stateDir string
	log      *slog.Logger
	ports    serialport.Ports
	buses    i2cbus.Buses
	closers  []io.Closer // the sensors that hold resources of their own
}

// Open makes the sensors that cfgs, validated by agent/config, list. The
// sim sensors keep their state in stateDir. A sensor whose source is
// absent ([sensors.ErrAbsent]) is logged and left out; any other error
// closes what was opened and names the sensor.
func Open(cfgs []config.Sensor, stateDir string, log *slog.Logger) (*Set, error) {
	s := &Set{stateDir: stateDir, log: log}
	for _, sc := range cfgs {
		open, ok := openers[sc.Type]
		if !ok {
			_ = s.Close()
			return nil, fmt.Errorf("sensor %s: unknown type %q", sc.Name, sc.Type)
		}
		sen, err := open(s, sc)
		if errors.Is(err, sensors.ErrAbsent) {
			log.Info("sensor skipped: its source is absent", "sensor", sc.Name, "type", sc.Type, "err", err)
			continue
		}
		if err != nil {
			_ = s.Close()
			return nil, fmt.Errorf("sensor %s: %w", sc.Name, err)
		}
		if c, ok := sen.(io.Closer); ok {
			s.closers = append(s.closers, c)
		}
		log.Info("sensor ready", "sensor", sc.Name, "type", sc.Type, "interval", sc.Interval.String())
		s.Schedules = append(s.Schedules, sensors.Schedule{Sensor: sen, Interval: sc.Interval, Timeout: sc.Timeout})
	}
	return s, nil
}

// Close closes the sensors that hold resources, then the serial ports
// and I²C buses, and returns their errors joined. Call it once the
// sampler has stopped.
func (s *Set) Close() error {
	var errs []error
	for _, c := range s.closers {
		errs = append(errs, c.Close())
	}
	errs = append(errs, s.ports.Close(), s.buses.Close())
	return errors.Join(errs...)
}

func (s *Set) openSim(sc config.Sensor) (sensors.Sensor, error) {
	return sim.New(sim.Config{Name: sc.Name, StateDir: s.stateDir, Settings: sim.Settings{Period: sc.Period, ReadDelay: sc.ReadDelay}, Logger: s.log})
}

func (s *Set) openThermal(sc config.Sensor) (sensors.Sensor, error) {
	return thermal.New(thermal.Config{Name: sc.Name, Settings: thermal.Settings{Path: sc.Path}})
}

func (s *Set) openModbus(sc config.Sensor) (sensors.Sensor, error) {
	port, err := s.port(sc)
	if err != nil {
		return nil, err
	}
	regs := make([]modbus.Register, len(sc.Registers))
	for i, r := range sc.Registers {
		regs[i] = modbus.Register{Metric: r.Metric, Unit: r.Unit, Function: modbus.Function(r.Function), Address: uint16(r.Address),
			Type: modbus.DataType(r.Type), WordOrder: modbus.WordOrder(r.WordOrder), Scale: r.Scale, Offset: r.Offset}
	}
	return modbus.New(modbus.Config{Name: sc.Name, Port: port, Settings: modbus.Settings{Slave: uint8(sc.Slave), Registers: regs,
		ResponseTimeout: sc.ResponseTimeout, Retries: sc.Retries}, Logger: s.log.With("sensor", sc.Name)})
}

func (s *Set) openSerialLine(sc config.Sensor) (sensors.Sensor, error) {
	port, err := s.port(sc)
	if err != nil {
		return nil, err
	}
	return serialline.New(serialline.Config{Name: sc.Name, Port: port, Settings: serialline.Settings{Format: sc.Format, Units: sc.Units,
		MaxLineBytes: confkeys.Size(sc.MaxLineBytes)}, Logger: s.log.With("sensor", sc.Name)})
}

func (s *Set) openBME280(sc config.Sensor) (sensors.Sensor, error) {
	o := sc.Oversampling
	return bme280.New(bme280.Config{Name: sc.Name, Bus: s.buses.Get(sc.Bus), Address: uint16(sc.Address),
		Oversampling: bme280.Oversampling{Temperature: o.Temperature, Pressure: o.Pressure, Humidity: o.Humidity}, Filter: sc.Filter, Logger: s.log.With("sensor", sc.Name)})
}

// port returns the serial port of sc, shared with the other sensors on
// its path.
func (s *Set) port(sc config.Sensor) (*serialport.Port, error) {
	return s.ports.Get(serialport.Config{Path: sc.Port, Baud: sc.Baud, DataBits: sc.DataBits,
		Parity: serialport.Parity(sc.Parity), StopBits: sc.StopBits, Logger: s.log})
}
