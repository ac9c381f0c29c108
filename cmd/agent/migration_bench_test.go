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
const benchBacklog = 200_000

// BenchmarkTwoUplinks measures phase A's cost to each uplink: a backlog
// of 200,000 telemetry records drained by the MQTT uplink into mosquitto
// and by the Kafka uplink into kfake, from one outbox that both carry,
// next to each uplink draining the same backlog from an outbox of its
// own, in the same run (baseline-alone). Each reports its rate in
// records/s: kafka-records/s, mqtt-records/s. "both" runs the two drains
// at once, as phase A does, sharing the CPU; "one-of-two" runs each
// drain alone on a store of two, the other uplink's share waiting: the
// store's own cost of the second uplink. agent-cpu-ms is the CPU time
// of the process (the uplinks, the outbox, and kfake, which runs in it)
// for the variant's drains, filling the outboxes included;
// mosquitto-cpu-ms is mosquitto's. Both brokers run on the machine, so
// on two cores a drain at once with the other gets what the other and
// its broker leave.
func BenchmarkTwoUplinks(b *testing.B) {
	recs := benchTelemetry(b)
	group := fmt.Sprintf("%dk-records", benchBacklog/1000)
	variant := func(name string, run func(b *testing.B) map[string]float64) {
		b.Run(group+"/"+name, func(b *testing.B) {
			for b.Loop() {
				self, children := cpuTimes(b)
				for k, v := range run(b) {
					b.ReportMetric(v, k+"-records/s")
				}
				self2, children2 := cpuTimes(b)
				b.ReportMetric(float64((self2 - self).Milliseconds()), "agent-cpu-ms")
				b.ReportMetric(float64((children2 - children).Milliseconds()), "mosquitto-cpu-ms")
			}
		})
	}
	variant("baseline-alone", func(b *testing.B) map[string]float64 {
		return map[string]float64{
			"kafka": drainRates(b, recs, []string{"kafka"}, "kafka")["kafka"],
			"mqtt":  drainRates(b, recs, []string{"mqtt"}, "mqtt")["mqtt"],
		}
	})
	variant("both", func(b *testing.B) map[string]float64 {
		return drainRates(b, recs, []string{"mqtt", "kafka"}, "mqtt", "kafka")
	})
	variant("one-of-two", func(b *testing.B) map[string]float64 {
		return map[string]float64{
			"kafka": drainRates(b, recs, []string{"mqtt", "kafka"}, "kafka")["kafka"],
			"mqtt":  drainRates(b, recs, []string{"mqtt", "kafka"}, "mqtt")["mqtt"],
		}
	})
}

// cpuTimes returns the CPU time, user and system, of the process and of
// its children that have exited (mosquitto, once stopped).
func cpuTimes(b *testing.B) (self, children time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err != nil {
		b.Fatal(err)
	}
	return self, time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// drainRates fills an outbox drained by uplinks with benchBacklog records
// of recs, runs the uplinks named in run at once, each to a broker of its
// own, and returns the rate at which each had every record acknowledged
// (telemetry; their status records are not counted). Its mosquitto has
// exited when it returns.
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
			defer broker.Stop() // its CPU time is then the process's children's
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
