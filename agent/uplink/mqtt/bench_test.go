package mqtt_test

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/agent/outbox/outboxtest"
	"github.com/iot-hub/agent/agent/uplink/mqtt"
	"github.com/iot-hub/agent/internal/mqtttest"
)

const benchWindow = 64

// BenchmarkDrain measures the uplink draining a pre-filled outbox of
// 100,000 records (200-byte payloads, QoS 1) into mosquitto on loopback,
// next to a bare paho.golang client publishing the same messages from
// memory with the same window (64 publishes awaiting PUBACK), in the same
// run. One iteration drains everything; ns/op is per record.
func BenchmarkDrain(b *testing.B) {
	const n = 100000
	payload := make([]byte, 200)
	b.Run("100k-records/uplink", func(b *testing.B) {
		for b.Loop() {
			broker := mqtttest.Start(b, mqtttest.Options{})
			box, _ := outboxtest.Open(b, outbox.Config{Settings: outbox.Settings{MaxBytes: 256 << 20}})
			recs := make([]outbox.Record, 1000)
			for i := range recs {
				recs[i] = outbox.Record{Lane: outbox.LaneTelemetry, Topic: topics.Telemetry, Key: []byte(device), Payload: payload}
			}
			for range n / len(recs) {
				if err := box.Append(context.Background(), recs...); err != nil {
					b.Fatal(err)
				}
			}
			up, err := mqtt.New(mqtt.Config{Settings: mqtt.Settings{Broker: broker.URL(), Window: benchWindow}, DeviceID: device}, box, nil)
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			start := time.Now()
			done := make(chan struct{})
			go func() { up.Run(ctx); close(done) }()
			for box.Stats().Telemetry.Depth > 0 {
				time.Sleep(2 * time.Millisecond)
			}
			elapsed := time.Since(start)
			cancel()
			<-done
			box.Close()
			b.ReportMetric(float64(n)/elapsed.Seconds(), "records/s")
			b.ReportMetric(float64(elapsed.Nanoseconds())/n, "ns/record")
		}
	})
	b.Run("100k-records/baseline-paho-window-64", func(b *testing.B) {
		for b.Loop() {
			broker := mqtttest.Start(b, mqtttest.Options{})
			cm := benchClient(b, broker)
			start := time.Now()
			var wg sync.WaitGroup
			slots := make(chan struct{}, benchWindow)
			for range n {
				slots <- struct{}{}
				wg.Go(func() {
					defer func() { <-slots }()
					if _, err := cm.Publish(context.Background(), &paho.Publish{QoS: 1, Topic: topics.Telemetry, Payload: payload}); err != nil {
						b.Error(err)
					}
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.ReportMetric(float64(n)/elapsed.Seconds(), "records/s")
			b.ReportMetric(float64(elapsed.Nanoseconds())/n, "ns/record")
		}
	})
}

// BenchmarkLatency measures, at 1,000 records/s for 3 s, the time from
// Append to the PUBACK (the outbox's Ack) through the uplink, next to a
// bare QoS 1 publish's time to PUBACK at the same rate, in the same run;
// it reports p50 and p99 in microseconds.
func BenchmarkLatency(b *testing.B) {
	const rate, seconds = 1000, 3
	payload := make([]byte, 200)
	b.Run("1000-per-s/uplink-append-to-puback", func(b *testing.B) {
		for b.Loop() {
			broker := mqtttest.Start(b, mqtttest.Options{})
			store, _ := outboxtest.Open(b, outbox.Config{})
			box := &timedOutbox{Store: store, appended: map[string]time.Time{}, ids: map[outbox.ID]string{}}
			up, err := mqtt.New(mqtt.Config{Settings: mqtt.Settings{Broker: broker.URL(), Window: benchWindow}, DeviceID: device}, box, nil)
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { up.Run(ctx); close(done) }()
			waitConnected(b, up)
			tick := time.NewTicker(time.Second / rate)
			for i := range rate * seconds {
				<-tick.C
				key := fmt.Sprint(i)
				box.mark(key)
				if err := store.Append(context.Background(), outbox.Record{Lane: outbox.LaneTelemetry, Topic: topics.Telemetry, Key: []byte(key), Payload: payload}); err != nil {
					b.Fatal(err)
				}
			}
			tick.Stop()
			for box.count() < rate*seconds {
				time.Sleep(5 * time.Millisecond)
			}
			cancel()
			<-done
			store.Close()
			reportPercentiles(b, box.latencies())
		}
	})
	b.Run("1000-per-s/baseline-paho-publish-to-puback", func(b *testing.B) {
		for b.Loop() {
			broker := mqtttest.Start(b, mqtttest.Options{})
			cm := benchClient(b, broker)
			var mu sync.Mutex
			var lat []time.Duration
			var wg sync.WaitGroup
			tick := time.NewTicker(time.Second / rate)
			for range rate * seconds {
				<-tick.C
				wg.Go(func() {
					start := time.Now()
					if _, err := cm.Publish(context.Background(), &paho.Publish{QoS: 1, Topic: topics.Telemetry, Payload: payload}); err != nil {
						b.Error(err)
					}
					mu.Lock()
					lat = append(lat, time.Since(start))
					mu.Unlock()
				})
			}
			tick.Stop()
			wg.Wait()
			reportPercentiles(b, lat)
		}
	})
}

// timedOutbox records when each record (by key) was appended and when its
// Ack came.
type timedOutbox struct {
	*outbox.Store
	mu       sync.Mutex
	appended map[string]time.Time
	ids      map[outbox.ID]string
	lat      []time.Duration
}

func (o *timedOutbox) mark(key string) {
	o.mu.Lock()
	o.appended[key] = time.Now()
	o.mu.Unlock()
}

func (o *timedOutbox) TryNext(max int, wake chan struct{}) ([]outbox.Entry, error) {
	es, err := o.Store.TryNext(max, wake)
	o.mu.Lock()
	for _, e := range es {
		o.ids[e.ID] = string(e.Key)
	}
	o.mu.Unlock()
	return es, err
}

func (o *timedOutbox) Ack(ids ...outbox.ID) {
	now := time.Now()
	o.mu.Lock()
	for _, id := range ids {
		if at, ok := o.appended[o.ids[id]]; ok {
			o.lat = append(o.lat, now.Sub(at))
			delete(o.appended, o.ids[id])
		}
	}
	o.mu.Unlock()
	o.Store.Ack(ids...)
}

func (o *timedOutbox) count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.lat)
}

func (o *timedOutbox) latencies() []time.Duration {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.lat)
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	p := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) }
	b.ReportMetric(p(0.50), "p50-us")
	b.ReportMetric(p(0.99), "p99-us")
}

func waitConnected(b *testing.B, up *mqtt.Uplink) {
	deadline := time.Now().Add(10 * time.Second)
	for !up.State().Connected {
		if time.Now().After(deadline) {
			b.Fatal("the uplink did not connect")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// benchClient connects a bare autopaho client to broker.
func benchClient(b *testing.B, broker *mqtttest.Broker) *autopaho.ConnectionManager {
	u, _ := url.Parse(broker.URL())
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	cm, err := autopaho.NewConnection(ctx, autopaho.ClientConfig{
		ServerUrls: []*url.URL{u}, KeepAlive: 30, ClientConfig: paho.ClientConfig{ClientID: "bench-bare"},
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := cm.AwaitConnection(ctx); err != nil {
		b.Fatal(err)
	}
	return cm
}
