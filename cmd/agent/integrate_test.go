package main

import (
	"bytes"
	"log/slog"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/broker"
	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/contracts"
)

// TestIntegratorQueues: a device's message becomes, in the outbox's
// telemetry lane, valid by the contracts: an integration.mqtt.received
// event on the gateway's events topic, its binary payload in base64; a
// legacy telemetry object, the gateway's device.telemetry on its
// telemetry topic, the readings' sensor the device's client id; a
// legacy message that does not decode, an event again, Unadapted.
func TestIntegratorQueues(t *testing.T) {
	box := openBox(t)
	in, err := newIntegrator("gw-7", newCoalescer(box, maxWindow, groupRecords, groupBytes), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		m       broker.Message
		outcome broker.Outcome
		topic   string
		check   func(t *testing.T, m contracts.Message)
	}{
		{"binary event", broker.Message{Client: "meter-1", Topic: "meters/1/raw", Payload: []byte{0xff, 0x01}, QoS: 1, ReceivedAt: at},
			broker.Taken, "iot/v1/devices/gw-7/events", func(t *testing.T, m contracts.Message) {
				checkEvent(t, m, "meters/1/raw", []byte{0xff, 0x01}, at)
			}},
		{"legacy telemetry", broker.Message{Client: "plug-3", Topic: "legacy/plug-3", Payload: []byte(`{"power":12.5,"on":true,"v":230}`), QoS: 0, ReceivedAt: at, Legacy: true},
			broker.Adapted, "iot/v1/devices/gw-7/telemetry", func(t *testing.T, m contracts.Message) {
				tm, ok := m.(*contracts.DeviceTelemetry)
				if !ok {
					t.Fatalf("decoded a %T; want device.telemetry", m)
				}
				rs := tm.Payload.Readings
				if tm.Payload.DeviceID != "gw-7" || len(rs) != 2 || rs[0] != (contracts.Reading{Sensor: "plug-3", Metric: "power", Value: 12.5, At: at}) || rs[1].Metric != "v" || rs[1].Sensor != "plug-3" {
					t.Errorf("telemetry %+v; want gw-7's readings power and v of sensor plug-3 at %v", tm.Payload, at)
				}
			}},
		{"legacy garbage", broker.Message{Client: "plug-3", Topic: "legacy/plug-3", Payload: []byte(`{"on":true`), QoS: 1, ReceivedAt: at, Legacy: true},
			broker.Unadapted, "iot/v1/devices/gw-7/events", func(t *testing.T, m contracts.Message) {
				checkEvent(t, m, "legacy/plug-3", []byte(`{"on":true`), at)
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := in.take(tc.m)
			if o != tc.outcome || (err != nil) != (o == broker.Unadapted) {
				t.Fatalf("take = %v, %v; want %v", o, err, tc.outcome)
			}
			es, err := box.TryNext(10, nil)
			if err != nil || len(es) != 1 {
				t.Fatalf("outbox hands out %d entries, %v; want one", len(es), err)
			}
			e := es[0]
			box.Ack(e.ID)
			if e.Lane != outbox.LaneTelemetry || e.Topic != tc.topic || string(e.Key) != "gw-7" {
				t.Errorf("record lane %v, topic %q, key %q; want telemetry, %s, the gateway's id", e.Lane, e.Topic, e.Key, tc.topic)
			}
			m, err := contracts.Decode(e.Payload)
			if err != nil {
				t.Fatalf("the record does not decode by the contracts: %v\n%s", err, e.Payload)
			}
			tc.check(t, m)
		})
	}
}

// checkEvent checks that m is an integration.mqtt.received event of
// payload on topic, received at.
func checkEvent(t *testing.T, m contracts.Message, topic string, payload []byte, at time.Time) {
	t.Helper()
	ev, ok := m.(*contracts.IntegrationMQTTReceived)
	if !ok {
		t.Fatalf("decoded a %T; want integration.mqtt.received", m)
	}
	p := ev.Payload
	raw, err := contracts.Bytes(p.Payload, p.PayloadEncoding)
	if err != nil || p.Topic != topic || !p.ReceivedAt.Equal(at) || !bytes.Equal(raw, payload) {
		t.Errorf("payload %+v; want %q on %s", p, payload, topic)
	}
}
