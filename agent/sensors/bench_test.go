package sensors_test

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/agent/outbox/outboxtest"
	"github.com/iot-hub/agent/agent/sensors"
	"github.com/iot-hub/agent/agent/sensors/sensorstest"
	"github.com/iot-hub/agent/contracts"
)

// benchReadings are one read of a BME280: what most reads look like.
var benchReadings = []sensors.Reading{
	{Metric: "temperature", Value: 21.53, Unit: "Cel"},
	{Metric: "pressure", Value: 1013.25, Unit: "hPa"},
	{Metric: "humidity", Value: 45.2, Unit: "%"},
}

// benchReaders read at once, as the sensors of a gateway do: the outbox
// commits their events together.
const benchReaders = 32

// BenchmarkReading is the agent's cost of one read, from the driver's
// return to the outbox: the device.telemetry event built, encoded and
// appended (a real bbolt file; the commits shared by benchReaders
// concurrent reads). The baseline appends the same event, encoded
// beforehand: the outbox's share. cpu-ns/op is the process's CPU time
// (user and system, getrusage) per read, so the fsyncs' waits do not
// count but the commits' work does.
func BenchmarkReading(b *testing.B) {
	b.Run("bme280-3-metrics/sampler", func(b *testing.B) {
		box := benchBox(b)
		s, err := sensors.NewSampler(sensors.SamplerConfig{DeviceID: "gw-bench"}, box)
		if err != nil {
			b.Fatal(err)
		}
		sen := sensorstest.New("weather", sensorstest.Result{Readings: benchReadings})
		benchParallel(b, func() error { return s.Sample(context.Background(), sen) })
	})
	b.Run("bme280-3-metrics/baseline-outbox.Append", func(b *testing.B) {
		box := benchBox(b)
		rec := benchRecord(b)
		benchParallel(b, func() error { return box.Append(context.Background(), rec) })
	})
}

// benchParallel runs op b.N times from benchReaders goroutines and
// reports the CPU time per op.
func benchParallel(b *testing.B, op func() error) {
	b.SetParallelism((benchReaders + 1) / 2) // GOMAXPROCS is 2 here
	b.ReportAllocs()
	before := cpuTime(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := op(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64((cpuTime(b)-before).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// benchBox opens an outbox big enough for any b.N.
func benchBox(b *testing.B) *outbox.Store {
	b.Helper()
	box, _ := outboxtest.Open(b, outbox.Config{Settings: outbox.Settings{MaxBytes: 1 << 30}})
	return box
}

// benchRecord is the record the sampler appends for benchReadings.
func benchRecord(b *testing.B) outbox.Record {
	o := contracts.DeviceOrigin("gw-bench")
	p := contracts.DeviceTelemetryPayload{DeviceID: "gw-bench"}
	for _, r := range benchReadings {
		p.Readings = append(p.Readings, contracts.Reading{Sensor: "weather", Metric: r.Metric, Value: r.Value, Unit: r.Unit, At: time.Now()})
	}
	m := contracts.NewDeviceTelemetry(o, p)
	payload, err := contracts.Encode(m)
	if err != nil {
		b.Fatal(err)
	}
	return outbox.Record{Lane: outbox.LaneTelemetry, Topic: "iot/v1/devices/gw-bench/telemetry", Key: []byte("gw-bench"), Payload: payload,
		Headers: []outbox.Header{
			{Key: contracts.HeaderEventType, Value: []byte(m.EventType)},
			{Key: contracts.HeaderCorrelationID, Value: []byte(m.CorrelationID)},
			{Key: contracts.HeaderVersion, Value: []byte(m.Version)},
		}}
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
