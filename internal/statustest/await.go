package statustest

import (
	"testing"
	"time"

	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/internal/mqtttest"
)

// Await waits, up to timeout, until sub, a subscriber of one device's
// status topic, has received an event for which ok is true, and returns
// every event it has received by then, in order of arrival.
func Await(t testing.TB, sub *mqtttest.Subscriber, timeout time.Duration, what string, ok func(*contracts.DeviceStatusChanged) bool) []*contracts.DeviceStatusChanged {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for n := 1; ; {
		msgs := sub.WaitFor(t, n, time.Until(deadline))
		payloads := make([][]byte, len(msgs))
		for i, m := range msgs {
			payloads[i] = m.Payload
		}
		events := Decode(t, payloads...)
		for _, e := range events {
			if ok(e) {
				return events
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("statustest: no %s within %v; received %d status events", what, timeout, len(events))
		}
		n = len(msgs) + 1
	}
}
