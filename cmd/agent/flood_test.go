package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/iot-hub/agent/internal/clocktest"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/agent/outbox/outboxtest"
	"github.com/iot-hub/agent/agent/rpc"
	"github.com/iot-hub/agent/agent/uplink/mqtt"
	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/internal/lograte"
	"github.com/iot-hub/agent/internal/mqtttest"
	"github.com/iot-hub/agent/internal/syncbuf"
)

// Garbage published on the commands topic, through mosquitto and the MQTT
// uplink wired to the dispatcher as the daemon wires them: every message
// comes back as a dead letter on the dlq topic, and the log has one line
// for them all until a minute has passed, then one with their count.
func TestGarbageCommandsOverMQTTAreLoggedOnceAMinute(t *testing.T) {
	const n = 5000
	const id = "gw-flood"
	topics, _ := contracts.DeviceTopics(id)
	b := mqtttest.Start(t, mqtttest.Options{})
	dlq := b.Subscribe(t, topics.DLQ, 1)

	box, _ := outboxtest.Open(t, outbox.Config{})
	var logs syncbuf.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	clock := clocktest.New(time.Now())
	d, err := rpc.New(rpc.Config{DeviceID: id, Logger: log, Clock: clock}, box,
		rpc.Deps{Version: "test", StateDir: t.TempDir(), Started: clock.Now(), Outbox: box.Stats})
	if err != nil {
		t.Fatal(err)
	}
	up, err := mqtt.New(mqtt.Config{Settings: mqtt.Settings{Broker: b.URL(), BackoffMin: 100 * time.Millisecond, BackoffMax: time.Second}, DeviceID: id, Logger: log},
		box, dispatchMQTT(d, 0))
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- up.Run(ctx) }()
	t.Cleanup(func() {
		stop()
		if err := <-ran; err != nil {
			t.Errorf("uplink: %v", err)
		}
		d.Close()
		if err := box.Close(); err != nil {
			t.Errorf("outbox: %v", err)
		}
	})
	b.Subscribe(t, topics.Status, 1).WaitFor(t, 1, 30*time.Second) // online: the uplink has subscribed

	// deadLetters returns the distinct dead letters received, by their raw
	// message (QoS 1 may deliver one twice), failing on any other reason.
	deadLetters := func(want int) map[string]bool {
		t.Helper()
		raw := map[string]bool{}
		for _, m := range dlq.WaitFor(t, want, 3*time.Minute) {
			msg, err := contracts.Decode(m.Payload)
			if err != nil {
				t.Fatalf("dead letter: %v\n%s", err, m.Payload)
			}
			dl, ok := msg.(*contracts.SystemDLQ)
			if !ok || dl.Payload.Reason != contracts.DLQMalformed {
				t.Fatalf("on the dlq topic: %s; want a malformed dead letter", m.Payload)
			}
			raw[dl.Payload.Raw] = true
		}
		return raw
	}
	// lines returns the suppressed counts of the "rpc: dead letter" lines.
	lines := func() []int {
		t.Helper()
		var out []int
		for s := range strings.Lines(logs.String()) {
			var l struct {
				Msg        string `json:"msg"`
				Suppressed int    `json:"suppressed"`
			}
			if err := json.Unmarshal([]byte(s), &l); err != nil {
				t.Fatalf("log line %q: %v", s, err)
			}
			if l.Msg == "rpc: dead letter" {
				out = append(out, l.Suppressed)
			}
		}
		return out
	}

	for i := range n {
		b.Publish(t, topics.Commands, fmt.Appendf(nil, "garbage %d", i), 1, false, nil)
	}
	if got := len(deadLetters(n)); got != n {
		t.Fatalf("%d distinct dead letters; want %d, one per message", got, n)
	}
	if got := lines(); len(got) != 1 {
		t.Fatalf("%d messages within a minute: %d dead-letter lines; want 1", n, len(got))
	}

	clock.Advance(lograte.DefaultInterval)
	b.Publish(t, topics.Commands, []byte("garbage, a minute later"), 1, false, nil)
	if got := deadLetters(n + 1); !got["garbage, a minute later"] {
		t.Fatal("no dead letter for the message sent a minute later")
	}
	if got := lines(); len(got) != 2 || got[1] != n-1 {
		t.Errorf("a minute later: dead-letter lines suppressing %v; want a second line, suppressed=%d", got, n-1)
	}
	t.Logf("%d garbage messages: %d dead letters, %d log lines", n+1, n+1, len(lines()))
}
