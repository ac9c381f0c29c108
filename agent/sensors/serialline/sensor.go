package serialline

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/iot-hub/agent/agent/sensors"
	"github.com/iot-hub/agent/internal/lograte"
)

// Sensor is the serial-line driver: it reads the records a device prints
// on its port, one per line, from a goroutine of its own that New starts
// and Close stops. Its methods are safe for concurrent use.
type Sensor struct {
	cfg    Config
	path   string
	stop   context.CancelFunc
	done   chan struct{} // closed when the reader has returned
	closed chan struct{} // closed by Close
	once   sync.Once

	skipLines *lograte.Logger // one a minute per reason: a device can send garbage at line rate

	mu       sync.Mutex
	latest   []sensors.Reading // nil once read
	arrived  chan struct{}     // closed and replaced by each record
	skips    Skips
	atRecord Skips // skips when Read last returned a record
	records  uint64
	pending  int   // bytes of the line so far
	portErr  error // why the port is not being read; nil while it is
}

var _ sensors.Sensor = (*Sensor)(nil)

// New validates cfg and returns a sensor that reads cfg.Port from now on.
func New(cfg Config) (*Sensor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	ctx, stop := context.WithCancel(context.Background())
	s := &Sensor{
		cfg: cfg, path: cfg.Port.Config().Path, skipLines: lograte.New(cfg.Logger, lograte.Config{}), stop: stop,
		done: make(chan struct{}), closed: make(chan struct{}), arrived: make(chan struct{}),
	}
	go s.run(ctx)
	return s, nil
}

// Name returns the configured name.
func (s *Sensor) Name() string { return s.cfg.Name }

// Read returns the readings of the newest record received since the
// previous Read, or else waits for the next record. If ctx ends first, it
// fails with an error wrapping ErrNoRecord and ctx's cause that names the
// port, the lines skipped since the last record and, if the port cannot
// be read, the port's error (wrapped too).
func (s *Sensor) Read(ctx context.Context) ([]sensors.Reading, error) {
	start := time.Now()
	for {
		s.mu.Lock()
		if rs := s.latest; rs != nil {
			s.latest, s.atRecord = nil, s.skips
			s.mu.Unlock()
			return rs, nil
		}
		arrived := s.arrived
		s.mu.Unlock()
		select {
		case <-arrived:
		case <-s.closed:
			return nil, fmt.Errorf("serialline: %s: %w", s.cfg.Name, ErrClosed)
		case <-ctx.Done():
			return nil, s.noRecord(ctx, time.Since(start))
		}
	}
}

// noRecord is Read's error when ctx ended after waiting for waited.
func (s *Sensor) noRecord(ctx context.Context, waited time.Duration) error {
	s.mu.Lock()
	skipped, portErr := s.skips.sub(s.atRecord), s.portErr
	s.mu.Unlock()
	msg := fmt.Sprintf("serialline: %s on %s: %%w after %v (skipped since the last record: %v",
		s.cfg.Name, s.path, waited.Round(time.Millisecond), skipped)
	if portErr != nil {
		return fmt.Errorf(msg+"; port: %w): %w", ErrNoRecord, portErr, context.Cause(ctx))
	}
	return fmt.Errorf(msg+"): %w", ErrNoRecord, context.Cause(ctx))
}

// Skipped returns the lines skipped since New, by reason.
func (s *Sensor) Skipped() Skips {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.skips
}

// Close stops reading the port, within about 200 ms (the port's read
// slice), and makes Reads in progress and later fail with ErrClosed. It
// leaves the port open: the port's owner closes it. Calling it again does
// nothing.
func (s *Sensor) Close() error {
	s.once.Do(func() {
		close(s.closed)
		s.stop()
		<-s.done
	})
	return nil
}

// record keeps rs as the newest record.
func (s *Sensor) record(rs []sensors.Reading) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latest = rs
	s.records++
	close(s.arrived)
	s.arrived = make(chan struct{})
}

// skip counts a line skipped for r.
func (s *Sensor) skip(r Reason) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.skips.add(r)
}

// setPort records the port's state: err nil while it is read, and the
// length of the line so far.
func (s *Sensor) setPort(err error, pending int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.portErr, s.pending = err, pending
}
