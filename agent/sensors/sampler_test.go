package sensors_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/agent/outbox/outboxtest"
	"github.com/iot-hub/agent/agent/sensors"
	"github.com/iot-hub/agent/agent/sensors/sensorstest"
	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/internal/clock"
	"github.com/iot-hub/agent/internal/syncbuf"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// openBox opens an outbox in a temp dir, closed by the test's cleanup.
// fixedClock reads at, always, and arms the system's timers: for tests
// of what a read reports, its time among it. The schedule of a sampler
// on it slows, as its time does not move: each wait is one interval
// longer than the one before.
type fixedClock struct{ at time.Time }

func (c fixedClock) Now() time.Time { return c.at }

func (fixedClock) NewTimer(d time.Duration) clock.Timer { return clock.System.NewTimer(d) }

func (fixedClock) AfterFunc(d time.Duration, f func()) clock.Timer {
	return clock.System.AfterFunc(d, f)
}

func openBox(t *testing.T) *outbox.Store {
	t.Helper()
	box, _ := outboxtest.Open(t, outbox.Config{})
	return box
}

// next takes n entries from box, waiting up to 10 s.
func next(t *testing.T, box *outbox.Store, n int) []outbox.Entry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []outbox.Entry
	for len(out) < n {
		es, err := box.Next(ctx, n-len(out))
		if err != nil {
			t.Fatalf("Next after %d of %d entries: %v", len(out), n, err)
		}
		out = append(out, es...)
	}
	return out
}

// header returns the value of header key of e.
func header(e outbox.Entry, key string) string {
	for _, h := range e.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

func TestSampleAppendsTelemetry(t *testing.T) {
	box := openBox(t)
	at := time.Date(2026, 11, 27, 10, 15, 30, 123456789, time.UTC)
	s, err := sensors.NewSampler(sensors.SamplerConfig{DeviceID: "gw-7", Clock: fixedClock{at}}, box)
	if err != nil {
		t.Fatal(err)
	}
	sen := sensorstest.New("bme", sensorstest.Result{Readings: []sensors.Reading{
		{Metric: "temperature", Value: 21.5, Unit: "Cel"},
		{Metric: "count", Value: 3, Unit: ""},
	}})
	if err := s.Sample(context.Background(), sen); err != nil {
		t.Fatalf("Sample = %v", err)
	}
	e := next(t, box, 1)[0]
	if e.Lane != outbox.LaneTelemetry || e.Topic != "iot/v1/devices/gw-7/telemetry" || string(e.Key) != "gw-7" {
		t.Errorf("record lane %v, topic %q, key %q; want telemetry, iot/v1/devices/gw-7/telemetry, gw-7", e.Lane, e.Topic, e.Key)
	}
	m, err := contracts.Decode(e.Payload)
	if err != nil {
		t.Fatalf("Decode(%s) = %v", e.Payload, err)
	}
	tm, ok := m.(*contracts.DeviceTelemetry)
	if !ok {
		t.Fatalf("Decode = %T; want *contracts.DeviceTelemetry", m)
	}
	if tm.Source != (contracts.Source{Type: contracts.SourceDevice, ID: "gw-7"}) || tm.Payload.DeviceID != "gw-7" {
		t.Errorf("source %+v, deviceId %q; want device gw-7", tm.Source, tm.Payload.DeviceID)
	}
	wantAt := at.Truncate(time.Millisecond)
	want := []contracts.Reading{
		{Sensor: "bme", Metric: "temperature", Value: 21.5, Unit: "Cel", At: wantAt},
		{Sensor: "bme", Metric: "count", Value: 3, Unit: "", At: wantAt},
	}
	if len(tm.Payload.Readings) != 2 {
		t.Fatalf("readings = %+v; want %+v", tm.Payload.Readings, want)
	}
	for i, r := range tm.Payload.Readings {
		if r.Sensor != want[i].Sensor || r.Metric != want[i].Metric || r.Value != want[i].Value || r.Unit != want[i].Unit || !r.At.Equal(want[i].At) {
			t.Errorf("reading %d = %+v; want %+v", i, r, want[i])
		}
	}
	if !tm.Timestamp.Equal(wantAt) {
		t.Errorf("timestamp = %v; want %v", tm.Timestamp, wantAt)
	}
	for key, want := range map[string]string{"eventType": "device.telemetry", "correlationId": tm.CorrelationID, "__version": "v1"} {
		if got := header(e, key); got != want {
			t.Errorf("header %s = %q; want %q", key, got, want)
		}
	}
}

func TestSampleErrors(t *testing.T) {
	box := openBox(t)
	s, err := sensors.NewSampler(sensors.SamplerConfig{DeviceID: "gw"}, box)
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("bus error")
	if err := s.Sample(context.Background(), sensorstest.New("a", sensorstest.Result{Err: boom})); !errors.Is(err, boom) {
		t.Errorf("Sample of a failing sensor = %v; want %v", err, boom)
	}
	if err := s.Sample(context.Background(), sensorstest.New("a", sensorstest.Result{})); !errors.Is(err, sensors.ErrNoReadings) {
		t.Errorf("Sample of a sensor without readings = %v; want ErrNoReadings", err)
	}
	nan := sensorstest.New("a", sensorstest.Result{Readings: []sensors.Reading{{Metric: "x", Value: nanValue()}}})
	if err := s.Sample(context.Background(), nan); !errors.Is(err, contracts.ErrInvalidValue) {
		t.Errorf("Sample of a NaN reading = %v; want contracts.ErrInvalidValue", err)
	}
	if st := box.Stats(); st.Telemetry.Depth != 0 {
		t.Errorf("outbox depth %d after failed samples; want 0", st.Telemetry.Depth)
	}
}

func nanValue() float64 {
	zero := 0.0
	return zero / zero
}

func TestNewSamplerRefuses(t *testing.T) {
	if _, err := sensors.NewSampler(sensors.SamplerConfig{DeviceID: "a/b"}, nil); err == nil {
		t.Error("NewSampler with a bad device id = nil; want an error")
	}
	if _, err := sensors.NewSampler(sensors.SamplerConfig{DeviceID: "gw"}, nil, sensors.Schedule{Sensor: sensorstest.New("a")}); err == nil {
		t.Error("NewSampler with a zero interval = nil; want an error")
	}
	twice := sensors.Schedule{Sensor: sensorstest.New("a"), Interval: time.Second}
	if _, err := sensors.NewSampler(sensors.SamplerConfig{DeviceID: "gw"}, nil, twice, twice); err == nil {
		t.Error("NewSampler with a sensor scheduled twice = nil; want an error")
	}
}

func TestRunReadsEverySensor(t *testing.T) {
	box := openBox(t)
	var logs syncbuf.Buffer
	s, err := sensors.NewSampler(sensors.SamplerConfig{DeviceID: "gw", Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}, box,
		sensors.Schedule{Sensor: sensorstest.New("fast"), Interval: 10 * time.Millisecond},
		sensors.Schedule{Sensor: sensorstest.New("slow"), Interval: time.Hour},
	)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	// The slow sensor is read at once, the fast one again and again.
	seen := map[string]int{}
	for seen["fast"] < 3 || seen["slow"] < 1 {
		for _, e := range next(t, box, 1) {
			m, err := contracts.Decode(e.Payload)
			if err != nil {
				t.Fatal(err)
			}
			seen[m.(*contracts.DeviceTelemetry).Payload.Readings[0].Sensor]++
			box.Ack(e.ID)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v; want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if seen["slow"] != 1 {
		t.Errorf("the hourly sensor was read %d times; want 1", seen["slow"])
	}
	if !strings.Contains(logs.String(), `msg="telemetry queued" sensor=fast readings.temperature=21.5Cel correlationId=`) {
		t.Errorf("log lacks the reads:\n%s", logs.String())
	}
}

func TestRunLogsFailuresOnce(t *testing.T) {
	box := openBox(t)
	var logs syncbuf.Buffer
	reading := []sensors.Reading{{Metric: "t", Value: 1, Unit: "Cel"}}
	boom := errors.New("unplugged")
	sen := sensorstest.New("flaky",
		sensorstest.Result{Err: boom}, sensorstest.Result{Err: boom}, sensorstest.Result{Err: boom}, sensorstest.Result{Err: boom},
		sensorstest.Result{Readings: reading})
	s, err := sensors.NewSampler(sensors.SamplerConfig{DeviceID: "gw", Logger: slog.New(slog.NewTextHandler(&logs, nil))}, box,
		sensors.Schedule{Sensor: sen, Interval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	next(t, box, 1) // the first reading after the failures
	// The outbox hands a record out while its commit syncs: the
	// recovery is logged once the Append has returned.
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(logs.String(), "sensor recovered") && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	out := logs.String()
	if n := strings.Count(out, "sensor failed"); n != 1 {
		t.Errorf("%d lines of failure; want 1:\n%s", n, out)
	}
	if !strings.Contains(out, `msg="sensor recovered" sensor=flaky failuresSinceLastLog=3`) {
		t.Errorf("log lacks the recovery:\n%s", out)
	}
}

// panicky is a sensor whose driver has a bug.
type panicky struct{}

func (panicky) Name() string { return "panicky" }
func (panicky) Read(context.Context) ([]sensors.Reading, error) {
	panic("driver bug: register map out of range")
}

func TestDriverPanicIsAFailedRead(t *testing.T) {
	box := openBox(t)
	s, err := sensors.NewSampler(sensors.SamplerConfig{DeviceID: "gw"}, box, sensors.Schedule{Sensor: panicky{}, Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	sts, err := s.ReadNow(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st := sts[0]; st.Health != sensors.HealthFailing || !strings.Contains(st.LastError, "panicked") || !strings.Contains(st.LastError, "driver bug") {
		t.Errorf("status after a panicking read = %+v; want failing with the panic", st)
	}
}
