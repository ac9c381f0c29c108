package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/agent/sensors"
	"github.com/iot-hub/agent/agent/sensors/sim"
	"github.com/iot-hub/agent/agent/uplink/mqtt"
	"github.com/iot-hub/agent/contracts"
)

// gateway is one simulated gateway: the agent's outbox, MQTT uplink and
// sampler, with a simulated sensor, in a state directory of its own.
type gateway struct {
	id      string
	box     *outbox.Store
	up      *mqtt.Uplink
	sampler *sensors.Sampler
	ledger  *ledger

	mu        sync.Mutex
	connected []time.Time // each connection made, CONNACK accepted
	handedOut map[outbox.ID]string
}

// gatewayReserve is each gateway's outbox reserve (outbox.Config's
// ReserveBytes): a fleet on one disk does not need a MiB each.
const gatewayReserve = 64 << 10

// newGateway makes gateway i in dir, to publish to brokerURL and read
// its sensor every interval; the samplers' readings and the outboxes'
// acknowledgements go into l.
func newGateway(i int, dir, brokerURL string, interval time.Duration, l *ledger) (*gateway, error) {
	g := &gateway{id: fmt.Sprintf("gw-%04d", i), ledger: l, handedOut: make(map[outbox.ID]string)}
	state := filepath.Join(dir, g.id)
	if err := os.MkdirAll(state, 0o700); err != nil {
		return nil, err
	}
	box, err := outbox.Open(filepath.Join(state, "outbox.db"), outbox.Config{ReserveBytes: gatewayReserve})
	if err != nil {
		return nil, err
	}
	g.box = box
	cfg := mqtt.Config{Settings: mqtt.Settings{Broker: brokerURL}, DeviceID: g.id, OnConnect: g.onConnect}
	if g.up, err = mqtt.New(cfg, trackedBox{Store: box, g: g}, nil); err != nil {
		box.Close()
		return nil, err
	}
	if g.sampler, err = newSampler(g.id, state, interval, box, l); err != nil {
		box.Close()
		return nil, err
	}
	return g, nil
}

// newSampler is gateway id's sampler, reading a sim sensor in state
// every interval into box, and telling l of each reading stored.
func newSampler(id, state string, interval time.Duration, box *outbox.Store, l *ledger) (*sensors.Sampler, error) {
	sensor, err := sim.New(sim.Config{Name: "weather", StateDir: state})
	if err != nil {
		return nil, err
	}
	return sensors.NewSampler(sensors.SamplerConfig{DeviceID: id, StartJitter: interval, Logger: slog.New(slog.DiscardHandler)},
		recordingAppender{box: box, id: id, ledger: l}, sensors.Schedule{Sensor: sensor, Interval: interval})
}

// onConnect notes a connection; the uplink calls it after every CONNACK.
func (g *gateway) onConnect(*x509.Certificate) {
	g.mu.Lock()
	g.connected = append(g.connected, time.Now())
	g.mu.Unlock()
}

// firstConnectAfter is the gateway's first connection after t, or zero.
func (g *gateway) firstConnectAfter(t time.Time) time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, c := range g.connected {
		if c.After(t) {
			return c
		}
	}
	return time.Time{}
}

// drained reports whether the gateway's outbox holds no telemetry.
func (g *gateway) drained() bool { return g.box.Stats().Telemetry.Depth == 0 }

// trackedBox is the uplink's outbox, telling the ledger which readings
// mosquitto acknowledged, and when.
type trackedBox struct {
	*outbox.Store
	g *gateway
}

// TryNext hands out entries as the outbox does, noting the readings'
// correlation ids.
func (t trackedBox) TryNext(max int, wake chan struct{}) ([]outbox.Entry, error) {
	es, err := t.Store.TryNext(max, wake)
	t.g.mu.Lock()
	for _, e := range es {
		if e.Lane == outbox.LaneTelemetry {
			t.g.handedOut[e.ID] = correlationID(e.Headers)
		}
	}
	t.g.mu.Unlock()
	return es, err
}

// Ack acknowledges entries as the outbox does, noting when.
func (t trackedBox) Ack(ids ...outbox.ID) {
	now := time.Now()
	t.g.mu.Lock()
	for _, id := range ids {
		if c, ok := t.g.handedOut[id]; ok {
			delete(t.g.handedOut, id)
			t.g.ledger.acked(c, now)
		}
	}
	t.g.mu.Unlock()
	t.Store.Ack(ids...)
}

// recordingAppender is the sampler's outbox, telling the ledger of each
// reading the outbox stored.
type recordingAppender struct {
	box    *outbox.Store
	id     string // the gateway's
	ledger *ledger
}

// Append appends as the outbox does; the readings it stored go into the
// ledger.
func (a recordingAppender) Append(ctx context.Context, recs ...outbox.Record) error {
	if err := a.box.Append(ctx, recs...); err != nil {
		return err
	}
	for _, r := range recs {
		if r.Lane == outbox.LaneTelemetry {
			a.ledger.sampled(correlationID(r.Headers), a.id)
		}
	}
	return nil
}

// correlationID is the correlationId header's value, or "".
func correlationID(hs []outbox.Header) string {
	for _, h := range hs {
		if h.Key == contracts.HeaderCorrelationID {
			return string(h.Value)
		}
	}
	return ""
}
