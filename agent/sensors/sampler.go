package sensors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/agent/record"
	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/internal/backoff"
	"github.com/iot-hub/agent/internal/clock"
)

// Appender is what the sampler needs of the outbox.
type Appender interface {
	Append(ctx context.Context, recs ...outbox.Record) error
}

// ReadingsAppender is an Appender that sends a sensor's readings with
// other sensors' in one device.telemetry event of the gateway (the
// agent's: those of one window). The sampler gives it the readings,
// checked, instead of an event of their own. AppendReadings returns the
// event's correlationId once it is durable, or the error of the append,
// as Append does.
type ReadingsAppender interface {
	Appender
	AppendReadings(ctx context.Context, rs []contracts.Reading) (correlationID string, err error)
}

// Schedule is a sensor and how often to read it.
type Schedule struct {
	// Sensor is read; the sampler does not own it.
	Sensor Sensor
	// Interval is the time between the starts of two reads. Required.
	Interval time.Duration
	// Timeout bounds one read; at most Interval. Default: Interval.
	Timeout time.Duration
}

// SamplerConfig configures a Sampler.
type SamplerConfig struct {
	// DeviceID is the gateway's id: the source of the events, their
	// payload's deviceId and the record key. Required.
	DeviceID string
	// Logger receives a line per read at debug level, and the sensors'
	// failures, rate-limited. Default: discard.
	Logger *slog.Logger
	// Clock is the time of the readings and events, and the schedule's:
	// its timers start the reads. Default clock.System. A read's timeout
	// is the system's time: the sensor's I/O takes real time.
	Clock clock.Clock
	// StartJitter delays the first reads by a random time within
	// StartJitter or the interval, whichever is shorter, drawn once per
	// interval: the sensors of one interval are read together, so that
	// their events share the outbox's commits and the uplink's writes,
	// while gateways that start together (after a power cut) do not
	// publish in step. Sensors on one bus take turns on it all the same.
	// Default 0: the first reads come at once.
	StartJitter time.Duration
	// MaxBackoff caps how far a failing sensor's reads are spaced: after
	// n failed reads in a row, the next comes 2^(n-1) intervals after the
	// last, at most MaxBackoff (or one interval, if longer) after it.
	// Default [DefaultMaxBackoff].
	MaxBackoff time.Duration
}

// DefaultMaxBackoff is the default of [SamplerConfig.MaxBackoff].
const DefaultMaxBackoff = time.Minute

// Sampler reads sensors at their intervals and appends a device.telemetry
// event per read to the outbox's telemetry lane. It keeps each sensor's
// [Status], and reads on demand ([Sampler.ReadNow]).
type Sampler struct {
	cfg    SamplerConfig
	box    Appender
	states []*sensorState // in schedule order
	byName map[string]*sensorState
	origin contracts.Origin
	topic  string
}

// NewSampler returns a sampler of the schedules that appends to box. The
// sensors' names must be unique.
func NewSampler(cfg SamplerConfig, box Appender, schedules ...Schedule) (*Sampler, error) {
	topics, err := contracts.DeviceTopics(cfg.DeviceID)
	if err != nil {
		return nil, fmt.Errorf("sensors: sampler: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Clock = clock.Or(cfg.Clock)
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	o := contracts.DeviceOrigin(cfg.DeviceID)
	o.Clock = cfg.Clock.Now
	s := &Sampler{cfg: cfg, box: box, byName: make(map[string]*sensorState, len(schedules)), origin: o, topic: topics.Telemetry}
	lines := newFailureLines(cfg.Clock)
	for _, sc := range schedules {
		name := sc.Sensor.Name()
		switch {
		case sc.Interval <= 0:
			return nil, fmt.Errorf("sensors: sampler: sensor %q: interval %v must be positive", name, sc.Interval)
		case sc.Timeout < 0 || sc.Timeout > sc.Interval:
			return nil, fmt.Errorf("sensors: sampler: sensor %q: timeout %v must be within 0..%v, its interval", name, sc.Timeout, sc.Interval)
		case s.byName[name] != nil:
			return nil, fmt.Errorf("sensors: sampler: sensor %q scheduled twice", name)
		}
		if sc.Timeout == 0 {
			sc.Timeout = sc.Interval
		}
		st := newSensorState(sc, cfg.Logger, lines)
		s.states = append(s.states, st)
		s.byName[name] = st
	}
	return s, nil
}

// Run reads every sensor at its interval, the first time within
// StartJitter (see SamplerConfig), until ctx ends; then it returns nil once every read has
// returned. Run it once.
func (s *Sampler) Run(ctx context.Context) error {
	start := s.cfg.Clock.Now()
	phases := map[time.Duration]time.Time{} // by interval: the first reads
	for _, st := range s.states {
		if _, ok := phases[st.Interval]; !ok {
			phases[st.Interval] = start
			if j := min(s.cfg.StartJitter, st.Interval); j > 0 {
				phases[st.Interval] = start.Add(rand.N(j))
			}
		}
	}
	var wg sync.WaitGroup
	for _, st := range s.states {
		wg.Go(func() { s.loop(ctx, st, phases[st.Interval]) })
	}
	wg.Wait()
	return nil
}

// loop reads one sensor at its interval from first, spaced further while
// it fails, until ctx ends. The reads keep to a grid: a late timer or a
// slow read does not shift the next, so the sensors of one interval stay
// together; a read that outlasts its slot skips the slots it missed.
func (s *Sampler) loop(ctx context.Context, st *sensorState, first time.Time) {
	clk := s.cfg.Clock
	next := first
	t := clk.NewTimer(next.Sub(clk.Now()))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		s.read(ctx, st, true) // its only error is ctx's: the stop
		next = next.Add(nextRead(st.Interval, st.failures(), s.cfg.MaxBackoff))
		if late := clk.Now().Sub(next); late > 0 {
			next = next.Add(late.Truncate(st.Interval) + st.Interval)
		}
		t.Reset(next.Sub(clk.Now()))
	}
}

// nextRead is the time from the start of a read to the start of the next
// when failures reads in a row have failed: one interval while the sensor
// works, doubling with every failure after the first, capped at
// maxBackoff or one interval, whichever is longer.
func nextRead(interval time.Duration, failures int, maxBackoff time.Duration) time.Duration {
	return backoff.Capped(interval, max(interval, maxBackoff), failures)
}

// read reads st's sensor on its turn, the read bounded by the sensor's
// interval, records the outcome in st and returns st's status after it;
// or it returns ctx's error, having read nothing, if ctx ends before the
// turn comes. A scheduled read's failure once ctx has ended is the stop's,
// not the sensor's: it is not recorded.
func (s *Sampler) read(ctx context.Context, st *sensorState, scheduled bool) (Status, error) {
	if err := st.lock(ctx); err != nil {
		return Status{}, err
	}
	defer st.unlock()
	switch rs, at, err := s.sample(ctx, st.Sensor, st.Timeout); {
	case err == nil || errors.Is(err, outbox.ErrNoSpace):
		// A reading the outbox has no room for is the outbox's to count
		// and to log, once for every sensor: the sensor works.
		st.succeeded(rs, at)
	case !scheduled || ctx.Err() == nil:
		st.failed(err, s.origin.Now())
	}
	return st.status(), nil
}

// Sample reads sen once and appends its readings, in a telemetry event
// (see ReadingsAppender): it returns once the event is durable in the
// outbox, or with the read's or the append's error. It leaves the
// sampler's statuses alone.
func (s *Sampler) Sample(ctx context.Context, sen Sensor) error {
	_, _, err := s.sample(ctx, sen, 0)
	return err
}

// sample is Sample with the read bounded by timeout, when positive; it
// returns the readings and their time, also when the append failed.
func (s *Sampler) sample(ctx context.Context, sen Sensor, timeout time.Duration) ([]Reading, time.Time, error) {
	readCtx, cancel := ctx, context.CancelFunc(func() {})
	if timeout > 0 {
		readCtx, cancel = context.WithTimeout(ctx, timeout)
	}
	rs, err := readSafely(readCtx, sen)
	cancel()
	switch {
	case err != nil:
		return nil, time.Time{}, fmt.Errorf("sensors: read %s: %w", sen.Name(), err)
	case len(rs) == 0:
		return nil, time.Time{}, fmt.Errorf("sensors: read %s: %w", sen.Name(), ErrNoReadings)
	}
	at := s.origin.Now()
	p := contracts.DeviceTelemetryPayload{DeviceID: s.cfg.DeviceID, Readings: make([]contracts.Reading, len(rs))}
	for i, r := range rs {
		p.Readings[i] = contracts.Reading{Sensor: sen.Name(), Metric: r.Metric, Value: r.Value, Unit: r.Unit, At: at}
	}
	if ra, ok := s.box.(ReadingsAppender); ok {
		if err := p.Validate(); err != nil {
			return nil, time.Time{}, fmt.Errorf("sensors: %s: %w", sen.Name(), err)
		}
		id, err := ra.AppendReadings(ctx, p.Readings)
		if err != nil {
			return rs, at, fmt.Errorf("sensors: %s: %w", sen.Name(), err)
		}
		s.logQueued(ctx, sen, rs, id)
		return rs, at, nil
	}
	m := contracts.NewDeviceTelemetry(s.origin, p)
	b, err := contracts.Encode(m)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("sensors: %s: %w", sen.Name(), err)
	}
	if err := s.box.Append(ctx, record.Of(outbox.LaneTelemetry, s.topic, s.cfg.DeviceID, record.HeadOf(m.Header()), b)); err != nil {
		return rs, at, fmt.Errorf("sensors: %s: %w", sen.Name(), err)
	}
	s.logQueued(ctx, sen, rs, m.CorrelationID)
	return rs, at, nil
}

// logQueued logs, at debug, that sen's readings rs are durable in the
// event correlationID.
func (s *Sampler) logQueued(ctx context.Context, sen Sensor, rs []Reading, correlationID string) {
	if s.cfg.Logger.Enabled(ctx, slog.LevelDebug) { // spare summary's work at 200 reads a second
		s.cfg.Logger.Debug("telemetry queued", "sensor", sen.Name(), summary(rs), "correlationId", correlationID)
	}
}

// summary groups readings for a log line: in text
// "readings.temperature=21.5Cel readings.seq=3".
func summary(rs []Reading) slog.Attr {
	as := make([]any, len(rs))
	for i, r := range rs {
		as[i] = slog.String(r.Metric, strconv.FormatFloat(r.Value, 'g', -1, 64)+r.Unit)
	}
	return slog.Group("readings", as...)
}

// readSafely reads sen, turning a panic of its driver into an error: one
// broken driver must not take the agent down.
func readSafely(ctx context.Context, sen Sensor) (rs []Reading, err error) {
	defer func() {
		if r := recover(); r != nil {
			rs, err = nil, fmt.Errorf("%w: %v", ErrPanicked, r)
		}
	}()
	return sen.Read(ctx)
}
