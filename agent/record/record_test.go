package record_test

import (
	"slices"
	"testing"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/agent/record"
	"github.com/iot-hub/agent/contracts"
)

func TestOf(t *testing.T) {
	m := contracts.NewDeviceTelemetry(contracts.DeviceOrigin("gw-1"), contracts.DeviceTelemetryPayload{DeviceID: "gw-1"})
	ct := outbox.Header{Key: "mqtt.content-type", Value: []byte("application/json")}
	r := record.Of(outbox.LaneTelemetry, "iot/v1/devices/gw-1/telemetry", "gw-1", record.HeadOf(m.Header()), []byte("{}"), ct)
	want := []outbox.Header{ct,
		{Key: contracts.HeaderEventType, Value: []byte("device.telemetry")},
		{Key: contracts.HeaderCorrelationID, Value: []byte(m.CorrelationID)},
		{Key: contracts.HeaderVersion, Value: []byte("v1")},
	}
	if r.Lane != outbox.LaneTelemetry || r.Topic != "iot/v1/devices/gw-1/telemetry" || string(r.Key) != "gw-1" || string(r.Payload) != "{}" ||
		!slices.EqualFunc(r.Headers, want, func(a, b outbox.Header) bool { return a.Key == b.Key && string(a.Value) == string(b.Value) }) {
		t.Errorf("Of = %+v; want the lane, topic, key and payload given, and headers %+v", r, want)
	}
	// A head without a version is the contracts' version.
	r = record.Of(outbox.LaneControl, "t", "gw-1", record.Head{EventType: contracts.TypeDeviceResponseRPC, CorrelationID: "c"}, nil)
	if v := r.Headers[2]; v.Key != contracts.HeaderVersion || string(v.Value) != contracts.Version {
		t.Errorf("version header %+v; want %s", v, contracts.Version)
	}
}
