package sensors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/contracts"
)

// Appender is what the sampler needs of the outbox.
type Appender interface {
	Append(ctx context.Context, recs ...outbox.Record) error
}

// Schedule is a sensor and how often to read it.
type Schedule struct {
	// Sensor is read; the sampler does not own it.
	Sensor Sensor
	// Interval is the time between the starts of two reads; it also
	// bounds one read. Required.
	Interval time.Duration
}

// SamplerConfig configures a Sampler.
type SamplerConfig struct {
	// DeviceID is the gateway's id: the source of the events, their
	// payload's deviceId and the record key. Required.
	DeviceID string
	// Logger receives a line per read at info level, and the sensors'
	// failures, rate-limited. Default: discard.
	Logger *slog.Logger
	// Now is the clock of the readings and events. Default time.Now.
	Now func() time.Time
}

// Record header keys: every telemetry record repeats these fields of its
// envelope, for consumers that route on headers (Kafka headers, MQTT user
// properties).
const (
	HeaderEventType     = "eventType"
	HeaderCorrelationID = "correlationId"
	HeaderVersion       = "__version"
)

// FailureLogInterval is how often a sensor that keeps failing with the
// same error is logged again.
const FailureLogInterval = 10 * time.Minute

// Sampler reads sensors at their intervals and appends a device.telemetry
// event per read to the outbox's telemetry lane.
type Sampler struct {
	cfg       SamplerConfig
	box       Appender
	schedules []Schedule
	origin    contracts.Origin
	topic     string
}

// NewSampler returns a sampler of the schedules that appends to box.
func NewSampler(cfg SamplerConfig, box Appender, schedules ...Schedule) (*Sampler, error) {
	topics, err := contracts.DeviceTopics(cfg.DeviceID)
	if err != nil {
		return nil, fmt.Errorf("sensors: sampler: %w", err)
	}
	for _, sc := range schedules {
		if sc.Interval <= 0 {
			return nil, fmt.Errorf("sensors: sampler: sensor %q: interval %v must be positive", sc.Sensor.Name(), sc.Interval)
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	o := contracts.DeviceOrigin(cfg.DeviceID)
	o.Clock = cfg.Now
	return &Sampler{cfg: cfg, box: box, schedules: schedules, origin: o, topic: topics.Telemetry}, nil
}

// Run reads every sensor at its interval, the first time at once, until
// ctx ends; then it returns nil once every read has returned. Run it
// once.
func (s *Sampler) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, sc := range s.schedules {
		wg.Go(func() { s.loop(ctx, sc) })
	}
	wg.Wait()
	return nil
}

// loop reads one sensor at its interval until ctx ends.
func (s *Sampler) loop(ctx context.Context, sc Schedule) {
	t := time.NewTicker(sc.Interval)
	defer t.Stop()
	f := failures{log: s.cfg.Logger, sensor: sc.Sensor.Name()}
	for {
		switch err := s.sample(ctx, sc.Sensor, sc.Interval); {
		case err == nil:
			f.succeeded()
		case ctx.Err() == nil: // not the stop
			f.failed(err, s.cfg.Now())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Sample reads sen once and appends its telemetry event: it returns once
// the event is durable in the outbox, or with the read's or the append's
// error.
func (s *Sampler) Sample(ctx context.Context, sen Sensor) error {
	return s.sample(ctx, sen, 0)
}

// sample is Sample with the read bounded by timeout, when positive.
func (s *Sampler) sample(ctx context.Context, sen Sensor, timeout time.Duration) error {
	readCtx, cancel := ctx, context.CancelFunc(func() {})
	if timeout > 0 {
		readCtx, cancel = context.WithTimeout(ctx, timeout)
	}
	rs, err := sen.Read(readCtx)
	cancel()
	switch {
	case err != nil:
		return fmt.Errorf("sensors: read %s: %w", sen.Name(), err)
	case len(rs) == 0:
		return fmt.Errorf("sensors: read %s: %w", sen.Name(), ErrNoReadings)
	}
	at := s.origin.Now()
	p := contracts.DeviceTelemetryPayload{DeviceID: s.cfg.DeviceID, Readings: make([]contracts.Reading, len(rs))}
	for i, r := range rs {
		p.Readings[i] = contracts.Reading{Sensor: sen.Name(), Metric: r.Metric, Value: r.Value, Unit: r.Unit, At: at}
	}
	m := contracts.NewDeviceTelemetry(s.origin, p)
	b, err := contracts.Encode(m)
	if err != nil {
		return fmt.Errorf("sensors: %s: %w", sen.Name(), err)
	}
	rec := outbox.Record{
		Lane:    outbox.LaneTelemetry,
		Topic:   s.topic,
		Key:     []byte(s.cfg.DeviceID),
		Payload: b,
		Headers: []outbox.Header{
			{Key: HeaderEventType, Value: []byte(m.EventType)},
			{Key: HeaderCorrelationID, Value: []byte(m.CorrelationID)},
			{Key: HeaderVersion, Value: []byte(m.Version)},
		},
	}
	if err := s.box.Append(ctx, rec); err != nil {
		return fmt.Errorf("sensors: %s: %w", sen.Name(), err)
	}
	s.cfg.Logger.Info("telemetry queued", "sensor", sen.Name(), summary(rs), "correlationId", m.CorrelationID)
	return nil
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

// failures rate-limits the log of one sensor's failures: the first of a
// run, again when the error changes or after FailureLogInterval, and the
// recovery.
type failures struct {
	log      *slog.Logger
	sensor   string
	last     string    // the last error's text; "" when the sensor works
	n        int       // failures since the last line
	loggedAt time.Time // of the last line
}

func (f *failures) failed(err error, now time.Time) {
	msg := err.Error()
	f.n++
	if msg == f.last && now.Sub(f.loggedAt) < FailureLogInterval {
		return
	}
	level := slog.LevelWarn
	if errors.Is(err, outbox.ErrClosed) || errors.Is(err, outbox.ErrFull) || errors.Is(err, outbox.ErrTooLarge) {
		level = slog.LevelError
	}
	f.log.Log(context.Background(), level, "sensor failed", "sensor", f.sensor, "err", err, "failures", f.n)
	f.last, f.n, f.loggedAt = msg, 0, now
}

func (f *failures) succeeded() {
	if f.last == "" {
		return
	}
	f.log.Info("sensor recovered", "sensor", f.sensor, "failuresSinceLastLog", f.n)
	f.last, f.n = "", 0
}
