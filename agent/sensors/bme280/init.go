package bme280

import (
	"fmt"

	"periph.io/x/devices/v3/bmxx80"
)

// Registers (BME280 datasheet §5.3) and chip ids.
const (
	regChipID = 0xD0
	regConfig = 0xF5

	chipBME280 = 0x60
	chipBMP280 = 0x58

	// standby1s is config's t_sb as bmxx80 writes it; it matters only in
	// normal mode.
	standby1s = 5
)

// chipNames names the chip ids of the devices people mistake for a
// BME280, for the error message.
var chipNames = map[byte]string{
	0x55: "a BMP180",
	0x56: "a BMP280 sample",
	0x57: "a BMP280 sample",
	0x61: "a BME680",
}

// init checks the chip id, then has bmxx80 read the calibration and
// configure the device (sleep mode, oversampling), then sets the IIR
// filter, which bmxx80 sets only in normal mode. It runs in a turn.
func (s *Sensor) init() error {
	var id [1]byte
	if err := s.conn.Tx(s.addr, []byte{regChipID}, id[:]); err != nil {
		return fmt.Errorf("read chip id: %w", err)
	}
	switch id[0] {
	case chipBME280, chipBMP280:
	default:
		what := chipNames[id[0]]
		if what == "" {
			what = "an unknown device"
		}
		return fmt.Errorf("chip id 0x%02x, %s: %w", id[0], what, ErrUnsupportedChip)
	}
	dev, err := bmxx80.NewI2C(&s.conn, s.addr, &s.opts)
	if err != nil {
		return s.cause("initialise", err)
	}
	if s.filter != bmxx80.NoFilter {
		// In sleep mode, where bmxx80 left the device, config writes
		// take.
		if err := s.conn.Tx(s.addr, []byte{regConfig, standby1s<<5 | byte(s.filter)<<2}, nil); err != nil {
			return fmt.Errorf("set filter: %w", err)
		}
	}
	s.dev, s.isBME = dev, id[0] == chipBME280
	chip := "BME280"
	if !s.isBME {
		chip = "BMP280"
		if !s.warned {
			s.warned = true
			s.log.Warn("bme280: the device is a BMP280, which has no humidity sensor: reading temperature and pressure only",
				"bus", s.bus.Path(), "address", fmt.Sprintf("%#x", s.addr))
		}
	}
	s.mu.Lock()
	s.chip = chip
	s.mu.Unlock()
	return nil
}
