package mqtt_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/agent/uplink/mqtt"
	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/internal/mqtttest"
)

const device = "gw-test"

var topics, _ = contracts.DeviceTopics(device)

// rig is an outbox, an uplink running on it, and what the handler got.
type rig struct {
	box    *outbox.Store
	up     *mqtt.Uplink
	cancel context.CancelFunc
	done   chan error

	mu       sync.Mutex
	commands []mqtt.Command
}

// startUplink opens an outbox in dir and runs an uplink to broker on it.
func startUplink(t *testing.T, b *mqtttest.Broker, dir string, cfg mqtt.Config) *rig {
	t.Helper()
	box, err := outbox.Open(filepath.Join(dir, "outbox.db"), outbox.Config{MaxBytes: 256 << 20})
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{box: box, done: make(chan error, 1)}
	cfg.Broker, cfg.DeviceID = b.URL(), device
	if cfg.BackoffMin == 0 {
		cfg.BackoffMin, cfg.BackoffMax = 50*time.Millisecond, 500*time.Millisecond
	}
	if b.CAFile != "" {
		cfg.CAFile, cfg.CertFile, cfg.KeyFile = b.CAFile, b.ClientCertFile, b.ClientKeyFile
	}
	r.up, err = mqtt.New(cfg, box, func(_ context.Context, c mqtt.Command) {
		r.mu.Lock()
		r.commands = append(r.commands, c)
		r.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- r.up.Run(ctx) }()
	t.Cleanup(r.stop)
	return r
}

// stop ends the uplink and closes the outbox; it may be called twice.
func (r *rig) stop() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	<-r.done
	r.box.Close()
	r.cancel = nil
}

func (r *rig) received() []mqtt.Command {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]mqtt.Command(nil), r.commands...)
}

// records makes n records alternating between the lanes, numbered per
// lane in their payload ("control-7", "telemetry-12").
func records(n int) []outbox.Record {
	out := make([]outbox.Record, n)
	for i := range out {
		lane, topic := outbox.LaneTelemetry, topics.Telemetry
		if i%5 == 0 {
			lane, topic = outbox.LaneControl, topics.Events
		}
		out[i] = outbox.Record{Lane: lane, Topic: topic, Key: []byte(device),
			Payload: fmt.Appendf(nil, "%s-%06d-%s", lane, i, strings.Repeat("x", 180))}
	}
	return out
}

func TestPublishesEveryRecordInLaneOrder(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts mqtttest.Options
	}{
		{"mosquitto", mqtttest.Options{}},
		{"mosquitto-tls-client-cert", mqtttest.Options{TLS: true, RequireClientCert: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := mqtttest.Start(t, tc.opts)
			sub := b.Subscribe(t, "iot/v1/devices/"+device+"/+", 1)
			const n = 10000
			r := startUplink(t, b, t.TempDir(), mqtt.Config{})
			if err := r.box.Append(context.Background(), records(n)...); err != nil {
				t.Fatal(err)
			}
			msgs := sub.WaitFor(t, n+1, 60*time.Second) // and the online status
			dups := checkStream(t, msgs, n)
			if dups != 0 {
				t.Errorf("%d duplicates without any reconnect; want 0", dups)
			}
			checkStatus(t, msgs, contracts.DeviceOnline)
		})
	}
}

// checkStream checks msgs hold every record of records(n) at least once,
// each lane in order of first arrival, and returns the duplicates.
func checkStream(t *testing.T, msgs []mqtttest.Message, n int) int {
	t.Helper()
	seen := make(map[int]bool)
	last := map[string]int{"control": -1, "telemetry": -1}
	dups := 0
	for _, m := range msgs {
		if m.Topic == topics.Status {
			continue
		}
		parts := strings.SplitN(string(m.Payload), "-", 3)
		if len(parts) != 3 {
			t.Fatalf("unexpected message %q on %s", m.Payload, m.Topic)
		}
		i, _ := strconv.Atoi(parts[1])
		if seen[i] {
			dups++
			continue
		}
		seen[i] = true
		if i < last[parts[0]] {
			t.Errorf("%s record %d arrived after %d: lane order broken", parts[0], i, last[parts[0]])
		}
		last[parts[0]] = i
	}
	if len(seen) != n {
		missing := []int{}
		for i := 0; i < n && len(missing) < 10; i++ {
			if !seen[i] {
				missing = append(missing, i)
			}
		}
		t.Errorf("%d of %d records arrived; first missing: %v", len(seen), n, missing)
	}
	return dups
}

// checkStatus checks the last status message says want.
func checkStatus(t *testing.T, msgs []mqtttest.Message, want contracts.DeviceStatus) {
	t.Helper()
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Topic != topics.Status {
			continue
		}
		m, err := contracts.Decode(msgs[i].Payload)
		if err != nil {
			t.Fatalf("status message %s: %v", msgs[i].Payload, err)
		}
		if got := m.(*contracts.DeviceStatusChanged).Payload.Status; got != want {
			t.Errorf("status = %s; want %s", got, want)
		}
		return
	}
	t.Errorf("no status message; want %s", want)
}
