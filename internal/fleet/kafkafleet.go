package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/agent/uplink/kafka"
	"github.com/iot-hub/agent/contracts"
)

// kafkaFleetResult is what n gateways cost a kfake cluster, and what
// reached it.
type kafkaFleetResult struct {
	gateways, brokers  int
	connections        int     // open to the brokers, at the end
	fetches, produces  float64 // requests a second over the run
	ran                time.Duration
	sampled, delivered int
	lost, duplicates   int
}

// kafkaFleet runs n gateways (outbox, Kafka uplink with the agent's
// defaults, sampler with a sim sensor every interval) against a 3-broker
// kfake cluster for run, then stops the sensors, waits for the outboxes
// to drain, and reads the telemetry topic back: every stored reading
// must be there.
func kafkaFleet(n int, dir string, interval, run time.Duration) (kafkaFleetResult, error) {
	const brokers = 3
	r := kafkaFleetResult{gateways: n, brokers: brokers}
	c, err := kfake.NewCluster(kfake.NumBrokers(brokers), kfake.SeedTopics(3, contracts.TopicDeviceTelemetry, contracts.TopicDeviceCommands,
		contracts.TopicDeviceResponses, contracts.TopicDeviceEvents, contracts.TopicCertificateEvents, contracts.TopicDLQ))
	if err != nil {
		return r, err
	}
	defer c.Close()
	var mu sync.Mutex
	counts := map[int16]int{}
	c.Control(func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		mu.Lock()
		counts[req.Key()]++
		mu.Unlock()
		return nil, nil, false
	})
	l := newLedger()
	type gw struct {
		box     *outbox.Store
		up      *kafka.Uplink
		sampler interface{ Run(context.Context) error }
	}
	gws := make([]gw, n)
	for i := range gws {
		id := fmt.Sprintf("gk-%04d", i+1)
		state := filepath.Join(dir, id)
		if err := os.MkdirAll(state, 0o700); err != nil {
			return r, err
		}
		box, err := outbox.Open(filepath.Join(state, "outbox.db"), outbox.Config{ReserveBytes: gatewayReserve})
		if err != nil {
			return r, err
		}
		defer box.Close()
		cfg := kafka.DefaultConfig()
		cfg.Brokers, cfg.DeviceID = c.ListenAddrs(), id
		up, err := kafka.New(cfg, box, func(context.Context, kafka.Command) {})
		if err != nil {
			return r, err
		}
		s, err := newSampler(id, state, interval, box, l)
		if err != nil {
			return r, err
		}
		gws[i] = gw{box: box, up: up, sampler: s}
	}
	uplinks, stopUplinks := context.WithCancel(context.Background())
	sampling, stopSampling := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { stopSampling(); stopUplinks(); wg.Wait() }()
	start := time.Now()
	for _, g := range gws {
		wg.Go(func() { _ = g.up.Run(uplinks) })
		wg.Go(func() { _ = g.sampler.Run(sampling) })
	}
	time.Sleep(run)
	stopSampling()
	r.ran = time.Since(start)
	mu.Lock()
	r.fetches = float64(counts[kmsg.Fetch.Int16()]) / r.ran.Seconds()
	r.produces = float64(counts[kmsg.Produce.Int16()]) / r.ran.Seconds()
	mu.Unlock()
	if r.connections, err = establishedTo(c.ListenAddrs()); err != nil {
		return r, err
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		left := 0
		for _, g := range gws {
			left += g.box.Stats().Telemetry.Depth
		}
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			return r, fmt.Errorf("kafka fleet: %d readings still queued a minute after the sensors stopped", left)
		}
	}
	if err := readTelemetry(c.ListenAddrs(), l); err != nil {
		return r, err
	}
	t := l.count(time.Time{})
	r.sampled, r.delivered, r.lost, r.duplicates = t.sampled, t.distinct, t.lostByAgent+t.lostByBroker, t.duplicates
	return r, nil
}

// readTelemetry reads the telemetry topic from its start to its end,
// telling l of each reading by its correlationId header.
func readTelemetry(brokers []string, l *ledger) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(contracts.TopicDeviceTelemetry),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		return err
	}
	defer cl.Close()
	deadline := time.Now().Add(time.Minute)
	for quiet := 0; quiet < 2; { // two quiet seconds in a row: the end
		if time.Now().After(deadline) {
			return fmt.Errorf("kafka fleet: reading the telemetry back took over a minute")
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fs := cl.PollFetches(ctx) // returns with records, or with none when ctx ends
		cancel()
		n := 0
		fs.EachRecord(func(rec *kgo.Record) {
			n++
			for _, h := range rec.Headers {
				if h.Key == contracts.HeaderCorrelationID {
					l.delivered(string(h.Value))
				}
			}
		})
		if n == 0 {
			quiet++
		} else {
			quiet = 0
		}
	}
	return nil
}
