package mqtt

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/iot-hub/agent/agent/uplink"
	"github.com/iot-hub/agent/contracts"
)

// FuzzFromLegacy converts any payload, with any Correlation Data, as
// received on the legacy commands topic (seeds in
// testdata/fuzz/FuzzFromLegacy), and checks that it never panics and
// ends in one of two ways: a valid v1 command of this device's
// correlationId, or a Refusal that keeps the payload as received; either
// way the answer is marked for the legacy format, and the correlationId
// is a UUID, the same for the same Correlation Data.
func FuzzFromLegacy(f *testing.F) {
	f.Add([]byte(`{"method":"getSensors","deviceId":"gw-test","timeout":5000,"params":{"fresh":true}}`), []byte("6f1c1a43-3c27-4a8c-9d0e-2f4b8c1d7e6a"))
	f.Add([]byte(`{"method":"reboot","deviceId":"gw-test"}`), []byte{0xff, 0})
	u, err := New(Config{Settings: Settings{Broker: "mqtt://127.0.0.1:1", Protocol: ProtocolLegacy}, DeviceID: "gw-test"}, nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	received := time.Date(2026, 11, 27, 10, 15, 30, 123456789, time.UTC)
	f.Fuzz(func(t *testing.T, payload, correlationData []byte) {
		in := bytes.Clone(payload)
		c := Command{Command: uplink.Command{Topic: u.legacy.Commands, Payload: in, ReceivedAt: received}, CorrelationData: correlationData}
		u.fromLegacy(&c)
		if formatOf(c.ReplyHeaders) != FormatLegacy || c.Reply != u.legacy.Responses {
			t.Fatalf("fromLegacy(%q): reply to %q, headers %v; want the legacy responses topic, marked legacy", payload, c.Reply, c.ReplyHeaders)
		}
		if len(payload) > u.cfg.MaxCommandBytes {
			if c.Refusal != nil || !bytes.Equal(c.Payload, payload) {
				t.Fatalf("fromLegacy of %d bytes changed it; want it left for the dispatcher to refuse", len(payload))
			}
			return
		}
		var id string
		if r := c.Refusal; r != nil {
			if !bytes.Equal(c.Payload, payload) || r.Err == nil {
				t.Fatalf("fromLegacy(%q) refused with %v, payload %q; want an error, the payload as received", payload, r.Err, c.Payload)
			}
			id = r.CorrelationID
		} else {
			m, err := contracts.Decode(c.Payload)
			cmd, ok := m.(*contracts.DeviceCommandRPC)
			if err != nil || !ok || cmd.Payload.RequestedBy != "legacy" || cmd.ExpiresAt.Before(received.Truncate(time.Millisecond).Add(time.Second)) {
				t.Fatalf("fromLegacy(%q) = %s, %v; want a v1 command expiring 1s or more after its arrival", payload, c.Payload, err)
			}
			id = cmd.CorrelationID
		}
		if _, err := uuid.Parse(id); err != nil || len(id) != 36 {
			t.Fatalf("fromLegacy(%q, %q): correlationId %q is not a UUID", payload, correlationData, id)
		}
		if len(correlationData) > 0 && legacyCorrelationID(correlationData) != id {
			t.Fatalf("correlationId of %q: %s, then %s; want the same", correlationData, id, legacyCorrelationID(correlationData))
		}
	})
}
