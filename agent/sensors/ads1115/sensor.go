package ads1115

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"periph.io/x/conn/v3/i2c"

	"github.com/iot-hub/agent/agent/sensors"
	"github.com/iot-hub/agent/agent/sensors/i2cbus"
	"github.com/iot-hub/agent/internal/backoff"
)

// The registers' pointers and config bits (datasheet, "Register Map").
const (
	regConversion = 0x00
	regConfig     = 0x01

	osStart    = 1 << 15 // written: start a conversion; read: 1 once none runs
	modeSingle = 1 << 8
	compOff    = 0b11 // COMP_QUE: comparator disabled
)

// ErrBusy: the chip never said its conversion was done.
var ErrBusy = errors.New("conversion not done")

// Config configures a Sensor.
type Config struct {
	Name     string
	Bus      *i2cbus.Bus
	Address  uint16
	DataRate int
	Channels []Channel // their defaults filled in
}

// Sensor reads the channels of one ADS1115.
type Sensor struct {
	cfg     Config
	configs []uint16      // each channel's config word
	period  time.Duration // a conversion's nominal time
}

var _ sensors.Sensor = (*Sensor)(nil)

// New returns the sensor of cfg. It does no I/O.
func New(cfg Config) (*Sensor, error) {
	if cfg.Bus == nil {
		return nil, errors.New("ads1115: config: a Bus is required")
	}
	s := Settings{Bus: cfg.Bus.Path(), Address: cfg.Address, DataRate: cfg.DataRate, Channels: cfg.Channels}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("ads1115: %w", err)
	}
	sn := &Sensor{cfg: cfg, period: time.Second / time.Duration(cfg.DataRate)}
	for _, c := range cfg.Channels {
		sn.configs = append(sn.configs, osStart|muxes[c.Input]<<12|ranges[c.Range]<<9|modeSingle|rates[cfg.DataRate]<<5|compOff)
	}
	return sn, nil
}

// Name returns the configured name.
func (s *Sensor) Name() string { return s.cfg.Name }

// Read converts every channel, one after the other, in one turn on the
// bus.
func (s *Sensor) Read(ctx context.Context) ([]sensors.Reading, error) {
	rs := make([]sensors.Reading, len(s.cfg.Channels))
	err := s.cfg.Bus.Do(ctx, func(bus i2c.Bus) error {
		for i, c := range s.cfg.Channels {
			raw, err := s.convert(ctx, bus, s.configs[i])
			if err != nil {
				return fmt.Errorf("%s (%s): %w", c.Metric, c.Input, err)
			}
			rs[i] = sensors.Reading{Metric: c.Metric, Value: volts(raw, c.Range)*c.Scale + c.Offset, Unit: c.Unit}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ads1115 %s %#x: %w", s.cfg.Bus.Path(), s.cfg.Address, err)
	}
	return rs, nil
}

// convert runs one single-shot conversion of config and returns its
// result: it waits the nominal period and a tenth (the data rate is
// within ±10 %), then polls OS, up to three periods in all.
func (s *Sensor) convert(ctx context.Context, bus i2c.Bus, config uint16) (int16, error) {
	if err := bus.Tx(s.cfg.Address, binary.BigEndian.AppendUint16([]byte{regConfig}, config), nil); err != nil {
		return 0, fmt.Errorf("start: %w", err)
	}
	start := time.Now()
	if !backoff.Sleep(ctx, s.period+s.period/10) {
		return 0, ctx.Err()
	}
	var b [2]byte
	for {
		if err := bus.Tx(s.cfg.Address, []byte{regConfig}, b[:]); err != nil {
			return 0, fmt.Errorf("poll: %w", err)
		}
		if binary.BigEndian.Uint16(b[:])&osStart != 0 {
			break
		}
		if time.Since(start) > 3*s.period {
			return 0, fmt.Errorf("%w after %v", ErrBusy, time.Since(start).Round(time.Millisecond))
		}
		if !backoff.Sleep(ctx, max(s.period/8, time.Millisecond)) {
			return 0, ctx.Err()
		}
	}
	if err := bus.Tx(s.cfg.Address, []byte{regConversion}, b[:]); err != nil {
		return 0, fmt.Errorf("read: %w", err)
	}
	return int16(binary.BigEndian.Uint16(b[:])), nil
}

// volts is a conversion's value: a step is range/32768.
func volts(raw int16, fullScale float64) float64 { return float64(raw) * fullScale / 32768 }
