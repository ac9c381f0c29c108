package modbus

import (
	"context"
	"errors"
	"fmt"

	"github.com/iot-hub/agent/agent/sensors"
	"github.com/iot-hub/agent/agent/sensors/serialport"
)

// Sensor reads registers of one Modbus RTU slave, or of one unit of a
// Modbus TCP server. It is safe for concurrent use; its requests take
// turns on the port, or the server's connection, with those of every
// other user of it.
type Sensor struct {
	cfg     Config // with defaults
	batches []batch
}

var _ sensors.Sensor = (*Sensor)(nil)

// New validates cfg (see Config.Validate) and returns its sensor. It
// does not touch the port.
func New(cfg Config) (*Sensor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("modbus: %w", err)
	}
	cfg = cfg.withDefaults()
	cfg.Registers = append([]Register(nil), cfg.Registers...)
	cfg.Retries = new(*cfg.Retries)
	return &Sensor{cfg: cfg, batches: plan(cfg.Slave, cfg.Registers)}, nil
}

// Name returns the configured name.
func (s *Sensor) Name() string { return s.cfg.Name }

// Read reads every register, with as few requests as the register map
// allows, and returns one reading per register in the configured order.
// It fails as a whole, at the first request that fails all its attempts
// or when a value is not finite, with an error naming the slave, the
// function, the address range and the cause.
func (s *Sensor) Read(ctx context.Context) ([]sensors.Reading, error) {
	rs := make([]sensors.Reading, len(s.cfg.Registers))
	var bad []error
	for _, b := range s.batches {
		words, err := s.do(ctx, b.request)
		if err != nil {
			return nil, err
		}
		for _, i := range b.regs {
			r := s.cfg.Registers[i]
			off := r.Address - b.address
			v, err := r.value(words[off : off+r.words()])
			if err != nil {
				bad = append(bad, err)
			}
			rs[i] = sensors.Reading{Metric: r.Metric, Value: v, Unit: r.Unit}
		}
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("modbus: slave %d: %w", s.cfg.Slave, errors.Join(bad...))
	}
	return rs, nil
}

// do runs q, each attempt in its own turn on the port or the server's
// connection so that other slaves' requests can go between, until an
// attempt succeeds or fails for good.
func (s *Sensor) do(ctx context.Context, q request) ([]uint16, error) {
	attempts := *s.cfg.Retries + 1
	for a := 1; ; a++ {
		words, err := s.attempt(ctx, q)
		if err == nil {
			return words, nil
		}
		if a == attempts || !retryable(err) || ctx.Err() != nil {
			return nil, fmt.Errorf("modbus: %s: attempt %d of %d: %w", q, a, attempts, err)
		}
		s.cfg.Logger.Debug("modbus: attempt failed", "request", q.String(), "attempt", a, "err", err)
	}
}

// attempt is one attempt of q.
func (s *Sensor) attempt(ctx context.Context, q request) ([]uint16, error) {
	if s.cfg.Server != nil {
		return s.cfg.Server.attempt(ctx, q, s.cfg.ResponseTimeout)
	}
	var words []uint16
	gap := frameGap(s.cfg.Port.Config().Baud)
	err := s.cfg.Port.Do(ctx, func(ctx context.Context, c serialport.Conn) error {
		var err error
		words, err = exchange(ctx, c, gap, s.cfg.ResponseTimeout, q)
		return err
	})
	return words, err
}
