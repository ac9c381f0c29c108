package drivers

import (
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/iot-hub/agent/agent/sensors"
	"github.com/iot-hub/agent/agent/sensors/i2cbus"
	"github.com/iot-hub/agent/agent/sensors/modbus"
	"github.com/iot-hub/agent/agent/sensors/serialport"
)

// Set is the sensors of a configuration, with the ports, buses and Modbus
// TCP servers they share.
type Set struct {
	// Schedules are the sensors to sample, in the configuration's order.
	Schedules []sensors.Schedule

	stateDir string
	log      *slog.Logger
	ports    serialport.Ports
	buses    i2cbus.Buses
	servers  modbus.Servers
	closers  []io.Closer // the sensors that hold resources of their own
}

// Open makes the sensors of list, their defaults filled in and validated
// (as agent/config returns them), in its order. The sim sensors keep
// their state in stateDir. A sensor whose source is absent
// ([sensors.ErrAbsent]) is logged and left out; any other error closes
// what was opened and names the sensor.
func Open(list []Sensor, stateDir string, log *slog.Logger) (*Set, error) {
	s := &Set{stateDir: stateDir, log: log}
	for i := range list {
		sc := &list[i]
		sen, err := s.open(sc)
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

// open makes the sensor of sc, by its type's driver, on its serial port
// when it is on one: the one port of its path.
func (s *Set) open(sc *Sensor) (sensors.Sensor, error) {
	d, ok := driverOf(sc.Type)
	if !ok {
		return nil, fmt.Errorf("unknown type %q", sc.Type)
	}
	var port *serialport.Port
	if sc.Serial != nil {
		var err error
		if port, err = s.ports.Get(sc.Serial.Config(s.log)); err != nil {
			return nil, err
		}
	}
	return d.open(s, sc, port)
}

// Close closes the sensors that hold resources, then the serial ports
// and I²C buses, and returns their errors joined. Call it once the
// sampler has stopped.
func (s *Set) Close() error {
	var errs []error
	for _, c := range s.closers {
		errs = append(errs, c.Close())
	}
	errs = append(errs, s.ports.Close(), s.buses.Close(), s.servers.Close())
	return errors.Join(errs...)
}
