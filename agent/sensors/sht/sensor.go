package sht

import (
	"context"
	"errors"
	"fmt"
	"time"

	"periph.io/x/conn/v3/i2c"

	"github.com/iot-hub/agent/agent/sensors"
	"github.com/iot-hub/agent/agent/sensors/i2cbus"
	"github.com/iot-hub/agent/internal/backoff"
)

// Chip is a sensor family: what to send and how to convert.
type Chip struct {
	name    string
	measure []byte        // the command of one high-repeatability measurement
	wait    time.Duration // its longest duration
	rhMin   float64       // RH = rhMin + rhSpan·S/65535
	rhSpan  float64
}

// The chips.
var (
	SHT3x = Chip{name: "sht3x", measure: []byte{0x24, 0x00}, wait: 16 * time.Millisecond, rhMin: 0, rhSpan: 100}
	SHT4x = Chip{name: "sht4x", measure: []byte{0xfd}, wait: 9 * time.Millisecond, rhMin: -6, rhSpan: 125}
)

// String returns the chip's name, as its sensor type: "sht3x".
func (c Chip) String() string { return c.name }

// ErrCRC: a value read carries a CRC that does not match it.
var ErrCRC = errors.New("CRC wrong")

// Sensor reads one SHT3x or SHT4x.
type Sensor struct {
	name string
	chip Chip
	bus  *i2cbus.Bus
	addr uint16
}

var _ sensors.Sensor = (*Sensor)(nil)

// Config configures a Sensor.
type Config struct {
	// Name is the sensor's name in telemetry.
	Name string
	// Chip is SHT3x or SHT4x.
	Chip Chip
	// Bus is the bus the chip is on; Address its address.
	Bus     *i2cbus.Bus
	Address uint16
}

// New returns the sensor of cfg. It does no I/O.
func New(cfg Config) (*Sensor, error) {
	if cfg.Bus == nil || cfg.Chip.measure == nil {
		return nil, fmt.Errorf("sht: config: a Bus and a Chip are required")
	}
	return &Sensor{name: cfg.Name, chip: cfg.Chip, bus: cfg.Bus, addr: cfg.Address}, nil
}

// Name returns the configured name.
func (s *Sensor) Name() string { return s.name }

// Read measures once and returns temperature and humidity.
func (s *Sensor) Read(ctx context.Context) ([]sensors.Reading, error) {
	var b [6]byte
	err := s.bus.Do(ctx, func(bus i2c.Bus) error {
		if err := bus.Tx(s.addr, s.chip.measure, nil); err != nil {
			return fmt.Errorf("measure: %w", err)
		}
		if !backoff.Sleep(ctx, s.chip.wait) {
			return ctx.Err()
		}
		if err := bus.Tx(s.addr, nil, b[:]); err != nil {
			return fmt.Errorf("read: %w", err)
		}
		return nil
	})
	if err == nil {
		var rs []sensors.Reading
		if rs, err = s.chip.readings(b); err == nil {
			return rs, nil
		}
	}
	return nil, fmt.Errorf("%s %s %#x: %w", s.chip, s.bus.Path(), s.addr, err)
}

// readings converts the six bytes of a measurement.
func (c Chip) readings(b [6]byte) ([]sensors.Reading, error) {
	for _, w := range [][]byte{b[0:3], b[3:6]} {
		if got := crc8(w[:2]); got != w[2] {
			return nil, fmt.Errorf("%w: % x carries %02x, its CRC is %02x", ErrCRC, w[:2], w[2], got)
		}
	}
	st := float64(uint16(b[0])<<8 | uint16(b[1]))
	srh := float64(uint16(b[3])<<8 | uint16(b[4]))
	rh := min(max(c.rhMin+c.rhSpan*srh/65535, 0), 100)
	return []sensors.Reading{
		{Metric: "temperature", Value: -45 + 175*st/65535, Unit: "Cel"},
		{Metric: "humidity", Value: rh, Unit: "%"},
	}, nil
}

// crc8 is Sensirion's CRC-8: polynomial 0x31, initial value 0xFF, most
// significant bit first, no final XOR.
func crc8(b []byte) byte {
	crc := byte(0xff)
	for _, v := range b {
		crc ^= v
		for range 8 {
			if crc&0x80 != 0 {
				crc = crc<<1 ^ 0x31
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}
