package main

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/agent/uplink/kafka"
	"github.com/iot-hub/agent/agent/uplink/mqtt"
	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/internal/mqtttest"
)

// benchBacklog is the backlog BenchmarkTwoUplinks drains.
const benchBacklog = 50_000

// BenchmarkTwoUplinks measures phase A's cost to each uplink: a backlog
// of 50,000 telemetry records drained by the MQTT uplink into mosquitto
// and by the Kafka uplink into kfake, from one outbox that both carry,
// next to each uplink draining the same backlog from an outbox of its
// own, in the same run (baseline-alone). Each reports its rate in
// records/s: kafka-records/s, mqtt-records/s. "both" runs the two drains
// at once, as phase A does, sharing the CPU; "one-of-two" runs each
// drain alone on a store of two, the other uplink's share waiting: the
// store's own cost of the second uplink. cpu-ms is the process's CPU
// time for the variant's drains (filling the outboxes included;
// mosquitto's not).
func BenchmarkTwoUplinks(b *testing.B) {
	recs := benchTelemetry(b)
	group := fmt.Sprintf("%dk-records", benchBacklog/1000)
	b.Run(group+"/baseline-alone", func(b *testing.B) {
		for b.Loop() {
			cpu := processCPU(b)
			b.ReportMetric(drainRate(b, recs, []string{"kafka"}, "kafka"), "kafka-records/s")
			b.ReportMetric(drainRate(b, recs, []string{"mqtt"}, "mqtt"), "mqtt-records/s")
			b.ReportMetric(float64((processCPU(b) - cpu).Milliseconds()), "cpu-ms")
		}
	})
	b.Run(group+"/both", func(b *testing.B) {
		for b.Loop() {
			cpu := processCPU(b)
			rates := drainRates(b, recs, []string{"mqtt", "kafka"}, "mqtt", "kafka")
			b.ReportMetric(rates["kafka"], "kafka-records/s")
			b.ReportMetric(rates["mqtt"], "mqtt-records/s")
			b.ReportMetric(float64((processCPU(b) - cpu).Milliseconds()), "cpu-ms")
		}
	})
	b.Run(group+"/one-of-two", func(b *testing.B) {
		for b.Loop() {
			cpu := processCPU(b)
			b.ReportMetric(drainRate(b, recs, []string{"mqtt", "kafka"}, "kafka"), "kafka-records/s")
			b.ReportMetric(drainRate(b, recs, []string{"mqtt", "kafka"}, "mqtt"), "mqtt-records/s")
			b.ReportMetric(float64((processCPU(b) - cpu).Milliseconds()), "cpu-ms")
		}
	})
}

// processCPU is the CPU time, user and system, the process has used
// (the agent's side: the uplinks, the outbox and kfake; not mosquitto).
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// drainRate is drainRates of one uplink.
func drainRate(b *testing.B, recs []outbox.Record, uplinks []string, run string) float64 {
	return drainRates(b, recs, uplinks, run)[run]
}

// drainRates fills an outbox drained by uplinks with benchBacklog records
// of recs, runs the uplinks named in run at once, each to a broker of its
// own, and returns the rate at which each had every record acknowledged
// (telemetry; their status records are not counted).
func drainRates(b *testing.B, recs []outbox.Record, uplinks []string, run ...string) map[string]float64 {
	box, err := outbox.Open(filepath.Join(b.TempDir(), "outbox.db"), outbox.Config{
		Settings: outbox.Settings{MaxBytes: 256 << 20, LiveShare: -1}, Uplinks: uplinks})
	if err != nil {
		b.Fatal(err)
	}
	defer box.Close()
	for range benchBacklog / len(recs) {
		if err := box.Append(context.Background(), recs...); err != nil {
			b.Fatal(err)
		}
	}
	type drain struct {
		name  string
		acked atomic.Int64
		done  chan struct{}
		took  time.Duration
		run   func(context.Context) error
	}
	var drains []*drain
	for _, name := range run {
		d := &drain{name: name, done: make(chan struct{})}
		published := func(lane outbox.Lane, _ time.Duration) {
			if lane == outbox.LaneTelemetry && d.acked.Add(1) == benchBacklog {
				close(d.done)
			}
		}
		switch name {
		case "mqtt":
			broker := mqtttest.Start(b, mqtttest.Options{})
			up, err := mqtt.New(mqtt.Config{Settings: mqtt.Settings{Broker: broker.URL()}, DeviceID: benchDevice, OnPublished: published},
				box.View(name), nil)
			if err != nil {
				b.Fatal(err)
			}
			d.run = up.Run
		case "kafka":
			c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, contracts.TopicDeviceTelemetry, contracts.TopicDeviceCommands, contracts.TopicCertificateEvents, contracts.TopicDeviceEvents))
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			cfg := kafka.DefaultConfig()
			cfg.Brokers, cfg.DeviceID, cfg.OnPublished = c.ListenAddrs(), benchDevice, published
			up, err := kafka.New(cfg, box.View(name), nil)
			if err != nil {
				b.Fatal(err)
			}
			d.run = up.Run
		}
		drains = append(drains, d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	start := time.Now()
	for _, d := range drains {
		wg.Go(func() { _ = d.run(ctx) })
		wg.Go(func() {
			select {
			case <-d.done:
				d.took = time.Since(start)
			case <-time.After(5 * time.Minute):
				b.Errorf("%s: %d of %d records acknowledged in 5 minutes", d.name, d.acked.Load(), benchBacklog)
			}
		})
	}
	for _, d := range drains {
		<-d.done
	}
	cancel()
	wg.Wait()
	rates := map[string]float64{}
	for _, d := range drains {
		rates[d.name] = benchBacklog / d.took.Seconds()
	}
	return rates
}

// benchDevice is the device of BenchmarkTwoUplinks's records.
const benchDevice = "gw-bench"

// benchTelemetry returns 1,000 telemetry records as the sampler queues
// them: a device.telemetry event of 3 readings, for the v1 MQTT
// telemetry topic, with the contracts' headers.
func benchTelemetry(b *testing.B) []outbox.Record {
	topics, _ := contracts.DeviceTopics(benchDevice)
	at := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	out := make([]outbox.Record, 1000)
	for i := range out {
		at = at.Add(time.Second)
		m := contracts.NewDeviceTelemetry(contracts.DeviceOrigin(benchDevice), contracts.DeviceTelemetryPayload{DeviceID: benchDevice, Readings: []contracts.Reading{
			{Sensor: "weather", Metric: "temperature", Value: 21.5 + float64(i%50)/10, Unit: "Cel", At: at},
			{Sensor: "weather", Metric: "humidity", Value: 45 + float64(i%30)/10, Unit: "%RH", At: at},
			{Sensor: "weather", Metric: "pressure", Value: 1013 + float64(i%20)/10, Unit: "hPa", At: at},
		}})
		payload, err := contracts.Encode(m)
		if err != nil {
			b.Fatal(err)
		}
		out[i] = outbox.Record{
			Lane: outbox.LaneTelemetry, Topic: topics.Telemetry, Key: []byte(benchDevice), Payload: payload,
			Headers: []outbox.Header{
				{Key: contracts.HeaderEventType, Value: []byte(m.EventType)},
				{Key: contracts.HeaderCorrelationID, Value: []byte(m.CorrelationID)},
				{Key: contracts.HeaderVersion, Value: []byte(m.Version)},
			},
		}
	}
	return out
}
