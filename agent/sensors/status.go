package sensors

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// Health is a sensor's state.
type Health string

// Healths.
const (
	HealthOK      Health = "ok"      // the latest read succeeded
	HealthFailing Health = "failing" // the latest read failed
	HealthUnknown Health = "unknown" // not read yet
)

// Status is what the sampler knows of one sensor.
type Status struct {
	// Name is the sensor's name.
	Name string
	// Health is the outcome of the latest read.
	Health Health
	// Readings are those of the latest successful read; nil if none.
	Readings []Reading
	// At is when that read was taken: the readings' time in telemetry;
	// zero if none.
	At time.Time
	// ConsecutiveFailures counts the failed reads since the last success.
	ConsecutiveFailures int
	// Failures counts every failed read since the sampler was made: a
	// counter that only grows (a read on demand that gave up waiting for
	// its turn is not a read, and is not counted).
	Failures uint64
	// LastError is the error of the latest failed read; "" if none since
	// the sampler was made.
	LastError string
	// LastErrorAt is when that read failed; zero if none.
	LastErrorAt time.Time
}

// Status returns the status of the named sensors, in the order named, or
// of every sensor in schedule order when no name is given. A name the
// sampler does not know is an error wrapping [ErrUnknownSensor]. It is
// cheap, and safe to call at any time, before Run or after it.
func (s *Sampler) Status(names ...string) ([]Status, error) {
	sts, err := s.lookup(names)
	if err != nil {
		return nil, err
	}
	out := make([]Status, len(sts))
	for i, st := range sts {
		out[i] = st.status()
	}
	return out, nil
}

// ReadNow reads the named sensors (every sensor when none is named) now,
// concurrently, each within ctx and, like a scheduled read, its timeout,
// and returns their statuses after the reads. A read goes through the same
// path as a scheduled one: it updates the status and appends a telemetry
// event. A sensor's reads never overlap: a scheduled read and a ReadNow of
// the same sensor take turns; a ReadNow waiting for its turn gives up when
// ctx ends and reports that sensor failing with ctx's error, without
// touching its stored status. A failed read shows as [HealthFailing] in
// the result, not as an error; the error is for unknown names only, as in
// [Sampler.Status]. ReadNow works with or without Run.
func (s *Sampler) ReadNow(ctx context.Context, names ...string) ([]Status, error) {
	sts, err := s.lookup(names)
	if err != nil {
		return nil, err
	}
	out := make([]Status, len(sts))
	var wg sync.WaitGroup
	for i, st := range sts {
		wg.Go(func() {
			var err error
			if out[i], err = s.read(ctx, st, false); err != nil {
				out[i] = st.status()
				out[i].Health = HealthFailing
				out[i].LastError = fmt.Sprintf("sensors: read %s: waiting for its turn: %v", st.Sensor.Name(), err)
				out[i].LastErrorAt = s.origin.Now()
			}
		})
	}
	wg.Wait()
	return out, nil
}

// lookup returns the states of the named sensors, in the order named, or
// every state when no name is given.
func (s *Sampler) lookup(names []string) ([]*sensorState, error) {
	if len(names) == 0 {
		return s.states, nil
	}
	out := make([]*sensorState, len(names))
	for i, name := range names {
		if out[i] = s.byName[name]; out[i] == nil {
			return nil, fmt.Errorf("sensors: %w %q", ErrUnknownSensor, name)
		}
	}
	return out, nil
}

// sensorState is a scheduled sensor, its turn to be read and what the
// sampler knows of it.
type sensorState struct {
	Schedule
	turn  chan struct{} // holds a token while the sensor is read
	fails failures      // logs the failures; used on the turn only

	mu   sync.Mutex
	last Status
}

func newSensorState(sc Schedule, log *slog.Logger, lines failureLines) *sensorState {
	name := sc.Sensor.Name()
	return &sensorState{
		Schedule: sc,
		turn:     make(chan struct{}, 1),
		fails:    failures{log: log, lines: lines, sensor: name},
		last:     Status{Name: name, Health: HealthUnknown},
	}
}

// lock waits for st's turn to be read. If ctx ends first, or has ended,
// it returns ctx's error.
func (st *sensorState) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case st.turn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// unlock ends st's turn.
func (st *sensorState) unlock() { <-st.turn }

// succeeded records a read of rs, taken at at. Call it on st's turn.
func (st *sensorState) succeeded(rs []Reading, at time.Time) {
	st.fails.succeeded()
	st.mu.Lock()
	defer st.mu.Unlock()
	st.last.Health = HealthOK
	st.last.Readings = slices.Clone(rs)
	st.last.At = at
	st.last.ConsecutiveFailures = 0
}

// failed records a read that failed with err at at. Call it on st's turn.
func (st *sensorState) failed(err error, at time.Time) {
	st.fails.failed(err)
	st.mu.Lock()
	defer st.mu.Unlock()
	st.last.Health = HealthFailing
	st.last.ConsecutiveFailures++
	st.last.Failures++
	st.last.LastError = err.Error()
	st.last.LastErrorAt = at
}

// failures returns how many reads of st have failed in a row.
func (st *sensorState) failures() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.last.ConsecutiveFailures
}

// status returns a copy of st's status.
func (st *sensorState) status() Status {
	st.mu.Lock()
	defer st.mu.Unlock()
	c := st.last
	c.Readings = slices.Clone(c.Readings)
	return c
}
