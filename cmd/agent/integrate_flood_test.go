package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/iot-hub/agent/agent/broker"
	"github.com/iot-hub/agent/agent/sensors"
	"github.com/iot-hub/agent/agent/sensors/sensorstest"
	"github.com/iot-hub/agent/contracts"
)

// TestIntegrateFloodOfManyClients: devices that flood the embedded
// broker together, each within its own rate, are held to rateTotal in
// the outbox file, while the gateway's own sensor keeps its pace there.
func TestIntegrateFloodOfManyClients(t *testing.T) {
	const (
		clients    = 6
		rateTotal  = 20
		burstTotal = 20
		interval   = 50 * time.Millisecond
		floodFor   = 1500 * time.Millisecond
	)
	box := openBox(t)
	in, err := newIntegrator("gw-flood", newCoalescer(box, maxWindow, groupRecords, groupBytes), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	b, err := broker.Start(broker.Config{OnMessage: in.take, Settings: broker.Settings{Listen: "127.0.0.1:0", Integrate: broker.Integrate{
		Topics: []string{"flood/#"}, RatePerClient: 10000, BurstPerClient: 10000, RateTotal: rateTotal, BurstTotal: burstTotal}}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	sampler, err := sensors.NewSampler(sensors.SamplerConfig{DeviceID: "gw-flood"}, box, sensors.Schedule{Sensor: sensorstest.New("own"), Interval: interval})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	sampled := make(chan error, 1)
	go func() { sampled <- sampler.Run(ctx) }()

	start := time.Now()
	var wg sync.WaitGroup
	for i := range clients {
		c := deviceClient(t, b.Addr(), fmt.Sprint("flood-", i))
		wg.Go(func() {
			for n := 0; time.Since(start) < floodFor; n++ {
				pctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_, _ = c.Publish(pctx, &paho.Publish{Topic: fmt.Sprintf("flood/%d", i), QoS: 1, Payload: fmt.Appendf(nil, "%d", n)})
				cancel()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	stop()
	if err := <-sampled; err != nil {
		t.Fatalf("sampler: %v", err)
	}

	topics, _ := contracts.DeviceTopics("gw-flood")
	es, err := box.TryNext(1_000_000, nil)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, e := range es {
		count[e.Topic]++
	}
	st := b.Stats().Integrate
	most := burstTotal + int(rateTotal*elapsed.Seconds()) + 1
	if n := count[topics.Events]; n > most || uint64(n) != st.Of(broker.Taken) || st.Of(broker.OverTotal) == 0 {
		t.Errorf("%d clients flooding for %v: %d events in the outbox, stats %v; want at most %d, as many as taken, the rest over the total", clients, elapsed, n, st, most)
	}
	if least := int(elapsed / interval / 2); count[topics.Telemetry] < least {
		t.Errorf("the gateway's sensor, read every %v, put %d readings in the outbox in %v of flood; want at least %d", interval, count[topics.Telemetry], elapsed, least)
	}
}
