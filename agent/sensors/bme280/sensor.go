package bme280

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/devices/v3/bmxx80"

	"github.com/iot-hub/agent/agent/sensors"
	"github.com/iot-hub/agent/agent/sensors/i2cbus"
)

// TurnTimeout bounds a read's time on the bus, however long its ctx: the
// slowest measurement (16× everything) takes 113 ms.
const TurnTimeout = time.Second

// Sensor reads a BME280 (or a BMP280: temperature and pressure only) on
// an I²C bus, one forced measurement per Read. It is safe for concurrent
// use; reads of all the sensors on one bus take turns.
type Sensor struct {
	name   string
	bus    *i2cbus.Bus
	addr   uint16
	opts   bmxx80.Opts
	filter bmxx80.Filter
	log    *slog.Logger

	// Owned by the bus turn.
	conn   conn
	dev    *bmxx80.Dev // nil until initialised, and after a failed read
	isBME  bool        // of dev
	warned bool        // that the chip is a BMP280

	mu   sync.Mutex
	chip string
}

var _ sensors.Sensor = (*Sensor)(nil)

// New returns the sensor cfg describes, after validating cfg (see
// Config.Validate). It does no I/O: the device is initialised by the
// first Read.
func New(cfg Config) (*Sensor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &Sensor{
		name:   cfg.Name,
		bus:    cfg.Bus,
		addr:   cfg.Address,
		opts:   cfg.opts(),
		filter: filters[cfg.Filter],
		log:    cfg.Logger,
	}, nil
}

// Name returns the configured name.
func (s *Sensor) Name() string { return s.name }

// Chip returns the chip found at the address, "BME280" or "BMP280", or
// "" before the first successful initialisation.
func (s *Sensor) Chip() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.chip
}

// Read takes one forced measurement, in one turn on the bus, and returns
// temperature (Cel), then pressure (hPa) and humidity (%) unless they
// are off or, for humidity, the chip is a BMP280. It initialises the
// device first on the first Read and after a failed one. Its errors name
// the bus and the address.
func (s *Sensor) Read(ctx context.Context) ([]sensors.Reading, error) {
	var rs []sensors.Reading
	err := s.bus.Do(ctx, func(bus i2c.Bus) error {
		ctx, cancel := context.WithTimeout(ctx, TurnTimeout)
		defer cancel()
		s.conn = conn{ctx: ctx, bus: bus}
		defer func() { s.conn = conn{} }()
		if s.dev == nil {
			if err := s.init(); err != nil {
				return err
			}
		}
		var e physic.Env
		if err := s.dev.Sense(&e); err != nil {
			s.dev = nil
			return s.cause("measure", err)
		}
		rs = s.readings(e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bme280 %s %#x: %w", s.bus.Path(), s.addr, err)
	}
	return rs, nil
}

// cause returns err, from bmxx80, as the error that caused it when there
// is one: bmxx80 formats causes with %v.
func (s *Sensor) cause(op string, err error) error {
	if s.conn.err != nil {
		err = s.conn.err
	}
	return fmt.Errorf("%s: %w", op, err)
}

// readings converts a measurement.
func (s *Sensor) readings(e physic.Env) []sensors.Reading {
	rs := []sensors.Reading{{Metric: "temperature", Value: e.Temperature.Celsius(), Unit: "Cel"}}
	if s.opts.Pressure != bmxx80.Off {
		rs = append(rs, sensors.Reading{Metric: "pressure", Value: float64(e.Pressure) / float64(100*physic.Pascal), Unit: "hPa"})
	}
	if s.isBME && s.opts.Humidity != bmxx80.Off {
		rs = append(rs, sensors.Reading{Metric: "humidity", Value: float64(e.Humidity) / float64(physic.PercentRH), Unit: "%"})
	}
	return rs
}
