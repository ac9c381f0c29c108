package main

import (
	"bytes"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/broker"
	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/contracts"
)

// TestIntegratorQueuesEvents: a device's message becomes an
// integration.mqtt.received event in the outbox's telemetry lane, on the
// device's events topic, its binary payload in base64, valid by the
// contracts.
func TestIntegratorQueuesEvents(t *testing.T) {
	box, err := outbox.Open(filepath.Join(t.TempDir(), "outbox.db"), outbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer box.Close()
	take, err := integrator("gw-7", box, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	if err := take(broker.Message{Client: "meter-1", Topic: "meters/1/raw", Payload: []byte{0xff, 0x01}, QoS: 1, ReceivedAt: at}); err != nil {
		t.Fatal(err)
	}
	es, err := box.TryNext(10, nil)
	if err != nil || len(es) != 1 {
		t.Fatalf("outbox holds %d entries, %v; want the event", len(es), err)
	}
	e := es[0]
	if e.Lane != outbox.LaneTelemetry || e.Topic != "iot/v1/devices/gw-7/events" || string(e.Key) != "gw-7" {
		t.Errorf("record lane %v, topic %q, key %q; want telemetry, the device's events topic, the device id", e.Lane, e.Topic, e.Key)
	}
	m, err := contracts.Decode(e.Payload)
	if err != nil {
		t.Fatalf("the event does not decode by the contracts: %v\n%s", err, e.Payload)
	}
	ev, ok := m.(*contracts.IntegrationMQTTReceived)
	if !ok {
		t.Fatalf("decoded a %T", m)
	}
	p := ev.Payload
	raw, err := contracts.Bytes(p.Payload, p.PayloadEncoding)
	if err != nil || p.Topic != "meters/1/raw" || p.QoS != 1 || !p.ReceivedAt.Equal(at) || p.PayloadEncoding != contracts.EncodingBase64 || !bytes.Equal(raw, []byte{0xff, 0x01}) {
		t.Errorf("payload %+v; want meters/1/raw, QoS 1, base64 of ff 01", p)
	}
}
