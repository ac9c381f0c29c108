package broker_test

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/iot-hub/agent/agent/broker"
)

// TestIntegrateTakesWithinBounds: messages on the topics become events,
// a client's burst and rate bound them, a message too large is left
// out, and other topics are not taken; the counts say so.
func TestIntegrateTakesWithinBounds(t *testing.T) {
	var mu sync.Mutex
	var taken []broker.Message
	b, err := broker.Start(broker.Config{
		Settings: broker.Settings{Listen: "127.0.0.1:0", Integrate: broker.Integrate{Topics: []string{"meters/#"},
			MaxMessageBytes: 100, RatePerClient: 0.001, BurstPerClient: 3}},
		OnMessage: func(m broker.Message) error {
			mu.Lock()
			defer mu.Unlock()
			m.Payload = bytes.Clone(m.Payload)
			taken = append(taken, m)
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	c, _ := client(t, b.Addr(), "meter-1")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	publish := func(topic string, payload []byte) {
		if _, err := c.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: payload}); err != nil {
			t.Fatalf("publish %s: %v", topic, err)
		}
	}
	publish("other/x", []byte("1"))
	publish("meters/1/power", bytes.Repeat([]byte("x"), 101))
	for range 6 {
		publish("meters/1/power", []byte{0xff, 0x00})
	}
	mu.Lock()
	defer mu.Unlock()
	if len(taken) != 3 {
		t.Fatalf("taken %d messages; want 3, the client's burst", len(taken))
	}
	m := taken[0]
	if m.Client != "meter-1" || m.Topic != "meters/1/power" || m.QoS != 1 || !bytes.Equal(m.Payload, []byte{0xff, 0x00}) || time.Since(m.ReceivedAt) > time.Minute {
		t.Errorf("taken %+v; want meter-1's message on meters/1/power", m)
	}
	if got := b.IntegrateStats(); got != (broker.IntegrateStats{Taken: 3, TooLarge: 1, OverRate: 3}) {
		t.Errorf("stats %+v; want 3 taken, 1 too large, 3 over the rate", got)
	}
}
