package sensors_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/sensors"
	"github.com/iot-hub/agent/agent/sensors/sensorstest"
	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/internal/clocktest"
	"github.com/iot-hub/agent/internal/syncbuf"
)

// switchSensor reads its readings, or fails with the error set by fail.
type switchSensor struct {
	name     string
	readings []sensors.Reading

	mu  sync.Mutex
	err error
}

func (s *switchSensor) Name() string { return s.name }

func (s *switchSensor) Read(context.Context) ([]sensors.Reading, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	return s.readings, nil
}

// fail makes the next reads fail with err, or succeed when err is nil.
func (s *switchSensor) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

// gateSensor's Read says it started, then waits for release (and reads
// temperature 20 Cel) or for its context to end.
type gateSensor struct {
	name    string
	started chan struct{} // gets a value per Read, if there is room
	release chan struct{} // closed to let the reads return
}

func newGateSensor(name string) *gateSensor {
	return &gateSensor{name: name, started: make(chan struct{}, 1), release: make(chan struct{})}
}

func (s *gateSensor) Name() string { return s.name }

func (s *gateSensor) Read(ctx context.Context) ([]sensors.Reading, error) {
	select {
	case s.started <- struct{}{}:
	default:
	}
	select {
	case <-s.release:
		return []sensors.Reading{{Metric: "temperature", Value: 20, Unit: "Cel"}}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// countSensor counts its reads and the most that ran at once; a read
// takes a millisecond.
type countSensor struct {
	reads, running, most atomic.Int64
}

func (s *countSensor) Name() string { return "count" }

func (s *countSensor) Read(context.Context) ([]sensors.Reading, error) {
	s.reads.Add(1)
	n := s.running.Add(1)
	defer s.running.Add(-1)
	for m := s.most.Load(); n > m && !s.most.CompareAndSwap(m, n); m = s.most.Load() {
	}
	time.Sleep(time.Millisecond)
	return []sensors.Reading{{Metric: "count", Value: float64(n)}}, nil
}

// run runs s until the test ends.
func run(t *testing.T, s *sensors.Sampler) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v; want nil", err)
		}
	})
}

// status returns the status of the sensor named name.
func status(t *testing.T, s *sensors.Sampler, name string) sensors.Status {
	t.Helper()
	sts, err := s.Status(name)
	if err != nil || len(sts) != 1 || sts[0].Name != name {
		t.Fatalf("Status(%q) = %+v, %v; want its status", name, sts, err)
	}
	return sts[0]
}

// waitFor polls cond until it holds, failing the test after 10 s: a bound
// on a hang, not on speed.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: not within 10s", what)
		}
	}
}

// waitStatus waits up to 10 s for the status of the sensor named name to
// satisfy ok, and returns it.
func waitStatus(t *testing.T, s *sensors.Sampler, name string, ok func(sensors.Status) bool) sensors.Status {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		st := status(t, s, name)
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("status of %s is still %+v", name, st)
		}
	}
}

// wait waits up to 10 s for c to receive.
func wait(t *testing.T, c <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s after 10 s", what)
	}
}

func TestStatusBeforeAnyRead(t *testing.T) {
	s, err := sensors.NewSampler(sensors.SamplerConfig{DeviceID: "gw"}, openBox(t),
		sensors.Schedule{Sensor: sensorstest.New("a"), Interval: time.Second},
		sensors.Schedule{Sensor: sensorstest.New("b"), Interval: time.Second},
		sensors.Schedule{Sensor: sensorstest.New("c"), Interval: time.Second},
	)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		names, want []string
	}{
		{nil, []string{"a", "b", "c"}},
		{[]string{"c", "a"}, []string{"c", "a"}},
	} {
		sts, err := s.Status(tc.names...)
		if err != nil {
			t.Fatalf("Status(%q) = %v", tc.names, err)
		}
		var got []string
		for _, st := range sts {
			got = append(got, st.Name)
			if want := (sensors.Status{Name: st.Name, Health: sensors.HealthUnknown}); !statusEqual(st, want) {
				t.Errorf("Status(%q): %+v; want %+v", tc.names, st, want)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("Status(%q) names %q; want %q", tc.names, got, tc.want)
		}
	}
	if _, err := s.Status("a", "nope"); !errors.Is(err, sensors.ErrUnknownSensor) || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf(`Status("a", "nope") = %v; want ErrUnknownSensor naming "nope"`, err)
	}
	if _, err := s.ReadNow(context.Background(), "nope"); !errors.Is(err, sensors.ErrUnknownSensor) || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf(`ReadNow("nope") = %v; want ErrUnknownSensor naming "nope"`, err)
	}
}

// statusEqual reports whether a and b are equal, times by Equal.
func statusEqual(a, b sensors.Status) bool {
	return a.Name == b.Name && a.Health == b.Health && slices.Equal(a.Readings, b.Readings) &&
		(a.Readings == nil) == (b.Readings == nil) && a.At.Equal(b.At) &&
		a.ConsecutiveFailures == b.ConsecutiveFailures && a.Failures == b.Failures &&
		a.LastError == b.LastError && a.LastErrorAt.Equal(b.LastErrorAt)
}

func TestStatusThroughRun(t *testing.T) {
	at := time.Date(2026, 11, 27, 10, 15, 30, 0, time.UTC)
	readings := []sensors.Reading{{Metric: "temperature", Value: 21.5, Unit: "Cel"}, {Metric: "humidity", Value: 40, Unit: "%"}}
	sen := &switchSensor{name: "bme", readings: readings}
	s, err := sensors.NewSampler(sensors.SamplerConfig{DeviceID: "gw", Clock: fixedClock{at}}, openBox(t),
		sensors.Schedule{Sensor: sen, Interval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	run(t, s)

	st := waitStatus(t, s, "bme", func(st sensors.Status) bool { return st.Health == sensors.HealthOK })
	if want := (sensors.Status{Name: "bme", Health: sensors.HealthOK, Readings: readings, At: at}); !statusEqual(st, want) {
		t.Errorf("status after a read: %+v; want %+v", st, want)
	}
	st.Readings[0].Value = -1 // a copy: the sampler's is untouched
	if got := status(t, s, "bme").Readings; !slices.Equal(got, readings) {
		t.Errorf("readings %+v after the caller changed its copy; want %+v", got, readings)
	}

	sen.fail(errors.New("unplugged"))
	st = waitStatus(t, s, "bme", func(st sensors.Status) bool { return st.ConsecutiveFailures >= 2 })
	if st.Health != sensors.HealthFailing || !strings.Contains(st.LastError, "unplugged") || !st.LastErrorAt.Equal(at) {
		t.Errorf("status after failures: %+v; want failing, unplugged at %v", st, at)
	}
	if st.Failures < uint64(st.ConsecutiveFailures) {
		t.Errorf("status after failures: Failures %d < ConsecutiveFailures %d; want every failure counted", st.Failures, st.ConsecutiveFailures)
	}
	failed := st.Failures
	if !slices.Equal(st.Readings, readings) || !st.At.Equal(at) {
		t.Errorf("status after failures: readings %+v at %v; want the last good ones, %+v at %v", st.Readings, st.At, readings, at)
	}

	sen.fail(nil)
	st = waitStatus(t, s, "bme", func(st sensors.Status) bool { return st.Health == sensors.HealthOK })
	if st.ConsecutiveFailures != 0 || !slices.Equal(st.Readings, readings) || !strings.Contains(st.LastError, "unplugged") {
		t.Errorf("status after the recovery: %+v; want no failures since, the readings, the last error kept", st)
	}
	if st.Failures < failed {
		t.Errorf("status after the recovery: Failures %d; want the %d counted before kept: it only grows", st.Failures, failed)
	}
}

func TestReadNow(t *testing.T) {
	box := openBox(t)
	clk := clocktest.New(time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC))
	readings := []sensors.Reading{{Metric: "temperature", Value: 21.5, Unit: "Cel"}}
	s, err := sensors.NewSampler(sensors.SamplerConfig{DeviceID: "gw", Clock: clk}, box,
		sensors.Schedule{Sensor: sensorstest.New("bme", sensorstest.Result{Readings: readings}), Interval: time.Hour},
		sensors.Schedule{Sensor: sensorstest.New("bad", sensorstest.Result{Err: errors.New("bus error")}), Interval: time.Hour},
	)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	sts, err := s.ReadNow(ctx, "bad")
	if err != nil || len(sts) != 1 {
		t.Fatalf(`ReadNow("bad") = %+v, %v; want its status`, sts, err)
	}
	if st := sts[0]; st.Name != "bad" || st.Health != sensors.HealthFailing || st.ConsecutiveFailures != 1 || st.Failures != 1 ||
		!strings.Contains(st.LastError, "bus error") || st.LastErrorAt.IsZero() || st.Readings != nil {
		t.Errorf(`ReadNow("bad"): %+v; want failing once with the bus error`, st)
	}
	if d := box.Stats().Telemetry.Depth; d != 0 {
		t.Errorf("outbox depth %d after a failed read; want 0", d)
	}

	clk.Advance(time.Second)
	sts, err = s.ReadNow(ctx, "bme")
	if err != nil || len(sts) != 1 {
		t.Fatalf(`ReadNow("bme") = %+v, %v; want its status`, sts, err)
	}
	st := sts[0]
	if st.Name != "bme" || st.Health != sensors.HealthOK || !slices.Equal(st.Readings, readings) || st.At.IsZero() {
		t.Errorf(`ReadNow("bme"): %+v; want ok with %+v`, st, readings)
	}
	m, err := contracts.Decode(next(t, box, 1)[0].Payload)
	if err != nil {
		t.Fatal(err)
	}
	if rs := m.(*contracts.DeviceTelemetry).Payload.Readings; len(rs) != 1 || rs[0].Sensor != "bme" || rs[0].Value != 21.5 || !rs[0].At.Equal(st.At) {
		t.Errorf("telemetry readings %+v; want bme's 21.5 at %v", rs, st.At)
	}
	if got := status(t, s, "bme"); !statusEqual(got, st) {
		t.Errorf("Status after ReadNow: %+v; want %+v", got, st)
	}

	clk.Advance(time.Second)
	sts, err = s.ReadNow(ctx)
	if err != nil || len(sts) != 2 || sts[0].Name != "bme" || sts[1].Name != "bad" {
		t.Fatalf("ReadNow() = %+v, %v; want bme's and bad's statuses", sts, err)
	}
	if sts[0].Health != sensors.HealthOK || !sts[0].At.After(st.At) {
		t.Errorf("ReadNow(): bme %+v; want ok, read after %v", sts[0], st.At)
	}
	if sts[1].Health != sensors.HealthFailing || sts[1].ConsecutiveFailures != 2 {
		t.Errorf("ReadNow(): bad %+v; want failing twice", sts[1])
	}
}

func TestReadNowOfABlockedSensor(t *testing.T) {
	sen := newGateSensor("stuck")
	s, err := sensors.NewSampler(sensors.SamplerConfig{DeviceID: "gw"}, openBox(t), sensors.Schedule{Sensor: sen, Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	sts, err := s.ReadNow(ctx, "stuck")
	if err != nil || len(sts) != 1 {
		t.Fatalf("ReadNow = %+v, %v; want its status", sts, err)
	}
	if st := sts[0]; st.Health != sensors.HealthFailing || st.ConsecutiveFailures != 1 || !strings.Contains(st.LastError, context.DeadlineExceeded.Error()) {
		t.Errorf("ReadNow: %+v; want failing with %v", st, context.DeadlineExceeded)
	}
	if st := status(t, s, "stuck"); st.Health != sensors.HealthFailing {
		t.Errorf("Status after the read: %+v; want failing", st)
	}
}

func TestReadNowGivesUpWaitingForItsTurn(t *testing.T) {
	sen := newGateSensor("slow")
	s, err := sensors.NewSampler(sensors.SamplerConfig{DeviceID: "gw"}, openBox(t), sensors.Schedule{Sensor: sen, Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	first := make(chan []sensors.Status, 1)
	go func() {
		sts, _ := s.ReadNow(context.Background())
		first <- sts
	}()
	wait(t, sen.started, "read")

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	sts, err := s.ReadNow(ctx, "slow")
	if err != nil || len(sts) != 1 {
		t.Fatalf("ReadNow = %+v, %v; want its status", sts, err)
	}
	if st := sts[0]; st.Health != sensors.HealthFailing || st.ConsecutiveFailures != 0 || !strings.Contains(st.LastError, context.DeadlineExceeded.Error()) {
		t.Errorf("ReadNow while another read runs: %+v; want failing with %v, no failed read", st, context.DeadlineExceeded)
	}
	if st := status(t, s, "slow"); st.Health != sensors.HealthUnknown || st.LastError != "" {
		t.Errorf("Status after giving up: %+v; want still unknown", st)
	}

	close(sen.release)
	if sts := <-first; len(sts) != 1 || sts[0].Health != sensors.HealthOK {
		t.Errorf("the first ReadNow = %+v; want ok", sts)
	}
}

func TestStopIsNotAFailure(t *testing.T) {
	sen := newGateSensor("stuck")
	var logs syncbuf.Buffer
	s, err := sensors.NewSampler(sensors.SamplerConfig{DeviceID: "gw", Logger: slog.New(slog.NewTextHandler(&logs, nil))}, openBox(t),
		sensors.Schedule{Sensor: sen, Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	wait(t, sen.started, "read")
	cancel()
	<-done
	if st := status(t, s, "stuck"); st.Health != sensors.HealthUnknown || st.ConsecutiveFailures != 0 || st.LastError != "" {
		t.Errorf("Status after a read cut short by the stop: %+v; want unknown", st)
	}
	if strings.Contains(logs.String(), "sensor failed") {
		t.Errorf("the stop was logged as a failure:\n%s", logs.String())
	}
}

func TestScheduledReadTimesOut(t *testing.T) {
	s, err := sensors.NewSampler(sensors.SamplerConfig{DeviceID: "gw"}, openBox(t),
		sensors.Schedule{Sensor: newGateSensor("stuck"), Interval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	run(t, s)
	st := waitStatus(t, s, "stuck", func(st sensors.Status) bool { return st.Health != sensors.HealthUnknown })
	if st.Health != sensors.HealthFailing || !strings.Contains(st.LastError, context.DeadlineExceeded.Error()) {
		t.Errorf("status of a sensor that outlasts its interval: %+v; want failing with %v", st, context.DeadlineExceeded)
	}
}

func TestReadsOfASensorNeverOverlap(t *testing.T) {
	sen := &countSensor{}
	s, err := sensors.NewSampler(sensors.SamplerConfig{DeviceID: "gw"}, openBox(t), sensors.Schedule{Sensor: sen, Interval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	run(t, s)
	const callers, calls = 4, 25
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			for range calls {
				if sts, err := s.ReadNow(context.Background(), "count"); err != nil || sts[0].Health != sensors.HealthOK {
					t.Errorf("ReadNow = %+v, %v; want ok", sts, err)
				}
			}
		})
	}
	wg.Wait()
	if n := sen.reads.Load(); n < callers*calls {
		t.Errorf("%d reads; want at least the %d of ReadNow", n, callers*calls)
	}
	if m := sen.most.Load(); m != 1 {
		t.Errorf("up to %d reads at once; want 1", m)
	}
}
