package sensors_test

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/sensors"
	"github.com/iot-hub/agent/agent/sensors/sensorstest"
	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/internal/clocktest"
)

// switchable fails until told to work; it counts its reads.
type switchable struct {
	works atomic.Bool
	reads atomic.Int64
}

func (*switchable) Name() string { return "switchable" }
func (s *switchable) Read(context.Context) ([]sensors.Reading, error) {
	s.reads.Add(1)
	if !s.works.Load() {
		return nil, errors.New("no answer")
	}
	return []sensors.Reading{{Metric: "t", Value: 1, Unit: "Cel"}}, nil
}

func TestFailingSensorBacksOffAndRecovers(t *testing.T) {
	box := openBox(t)
	sen := &switchable{}
	// Every 2 ms while it works; while it fails 2, 4, 8, 16, 32, then
	// every 40 ms: about 13 reads in 400 ms instead of 200.
	s, err := sensors.NewSampler(sensors.SamplerConfig{DeviceID: "gw", MaxBackoff: 40 * time.Millisecond}, box,
		sensors.Schedule{Sensor: sen, Interval: 2 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() { cancel(); <-done }()

	time.Sleep(400 * time.Millisecond)
	if n := sen.reads.Load(); n < 3 || n > 40 {
		t.Errorf("a failing sensor was read %d times in 400 ms; want about 13, spaced up to MaxBackoff", n)
	}
	sen.works.Store(true)
	next(t, box, 1) // within MaxBackoff, by itself
	before := sen.reads.Load()
	next(t, box, 20) // back to its interval
	if sts, _ := s.Status(); sts[0].Health != sensors.HealthOK || sts[0].ConsecutiveFailures != 0 {
		t.Errorf("status after recovery = %+v; want ok", sts[0])
	}
	if sen.reads.Load()-before < 20 {
		t.Errorf("%d reads after recovery; want 20 or more", sen.reads.Load()-before)
	}
}

func TestStartJitter(t *testing.T) {
	box := openBox(t)
	// 50 hourly sensors whose first read comes at one random point of the
	// hour: after a moment, none has been read (the odds that the point
	// fell within it are about 1 in 50,000). One whose interval is
	// shorter than the jitter starts within its interval.
	schedules := []sensors.Schedule{{Sensor: sensorstest.New("fast"), Interval: 20 * time.Millisecond}}
	hourly := make([]*sensorstest.Sensor, 50)
	for i := range hourly {
		hourly[i] = sensorstest.New("hourly-" + string(rune('A'+i)))
		schedules = append(schedules, sensors.Schedule{Sensor: hourly[i], Interval: time.Hour})
	}
	s, err := sensors.NewSampler(sensors.SamplerConfig{DeviceID: "gw", StartJitter: time.Hour}, box, schedules...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() { cancel(); <-done }()

	next(t, box, 3) // the fast one, again and again
	read := 0
	for _, h := range hourly {
		read += h.Reads()
	}
	if read != 0 {
		t.Errorf("%d of 50 hourly sensors were read at once; want their first read delayed within the hour", read)
	}
}

func TestSensorsOfOneIntervalReadTogether(t *testing.T) {
	box := openBox(t)
	// Ten sensors of one interval, with a jitter longer than it: their
	// reads come in rounds of ten, each round within a few milliseconds,
	// not spread over the interval.
	const n, interval = 10, 200 * time.Millisecond
	var schedules []sensors.Schedule
	for i := range n {
		schedules = append(schedules, sensors.Schedule{Sensor: sensorstest.New("s" + string(rune('0'+i))), Interval: interval})
	}
	s, err := sensors.NewSampler(sensors.SamplerConfig{DeviceID: "gw", StartJitter: time.Hour}, box, schedules...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() { cancel(); <-done }()

	var stamps []time.Time
	for _, e := range next(t, box, 3*n) {
		m, err := contracts.Decode(e.Payload)
		if err != nil {
			t.Fatal(err)
		}
		stamps = append(stamps, m.(*contracts.DeviceTelemetry).Payload.Readings[0].At)
	}
	slices.SortFunc(stamps, time.Time.Compare)
	for round := range 3 {
		first, last := stamps[round*n], stamps[round*n+n-1]
		if spread := last.Sub(first); spread > interval/2 {
			t.Errorf("round %d of reads spread over %v; want the ten together, well within the %v interval", round, spread, interval)
		}
	}
}

// hanging blocks until its read's context ends.
type hanging struct{}

func (hanging) Name() string { return "hanging" }
func (hanging) Read(ctx context.Context) ([]sensors.Reading, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestReadTimeout(t *testing.T) {
	box := openBox(t)
	s, err := sensors.NewSampler(sensors.SamplerConfig{DeviceID: "gw"}, box,
		sensors.Schedule{Sensor: hanging{}, Interval: time.Hour, Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sts, err := s.ReadNow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st := sts[0]; st.Health != sensors.HealthFailing || st.LastError != "sensors: read hanging: context deadline exceeded" {
		t.Errorf("status after a hanging read = %+v; want failing by its 50ms timeout", st)
	}
}

func TestScheduleTimeoutRefused(t *testing.T) {
	for _, timeout := range []time.Duration{-time.Second, 2 * time.Second} {
		sc := sensors.Schedule{Sensor: sensorstest.New("a"), Interval: time.Second, Timeout: timeout}
		if _, err := sensors.NewSampler(sensors.SamplerConfig{DeviceID: "gw"}, nil, sc); err == nil {
			t.Errorf("NewSampler with timeout %v for an interval of 1s = nil; want an error", timeout)
		}
	}
}

// TestScheduleOnTheClock: the reads keep to the sampler's clock: a test's
// clock moves them, with no real wait: one at the start, the next a full
// interval later, none before.
func TestScheduleOnTheClock(t *testing.T) {
	clk := clocktest.New(clocktest.Start)
	sen := sensorstest.New("t1")
	s, err := sensors.NewSampler(sensors.SamplerConfig{DeviceID: "gw", Clock: clk}, openBox(t),
		sensors.Schedule{Sensor: sen, Interval: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	run(t, s)
	// After each read, the loop arms its timer for the next one.
	armed := func(reads int) bool { return sen.Reads() == reads && clk.Timers() == 1 }
	waitFor(t, "the first read, at the start", func() bool { return armed(1) })
	clk.Advance(10*time.Second - time.Millisecond)
	if n := sen.Reads(); n != 1 {
		t.Fatalf("%d reads a millisecond before the interval; want 1", n)
	}
	clk.Advance(time.Millisecond)
	waitFor(t, "the second read, an interval later", func() bool { return armed(2) })
	clk.Advance(10 * time.Second)
	waitFor(t, "the third read", func() bool { return armed(3) })
}
