package statustest_test

import (
	"testing"
	"time"

	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/internal/statustest"
)

func event(s contracts.DeviceStatus, connection uint64, at time.Time) *contracts.DeviceStatusChanged {
	e := contracts.NewDeviceStatusChanged(contracts.DeviceOrigin("gw"), contracts.DeviceStatusChangedPayload{DeviceID: "gw", Status: s, Connection: connection})
	e.Timestamp = at
	return e
}

// TestOutranks checks each clause of the rule, both ways round.
func TestOutranks(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	later := t0.Add(time.Second)
	for _, c := range []struct {
		name string
		a, b *contracts.DeviceStatusChanged
	}{
		{"higher connection, though older", event(contracts.DeviceOnline, 3, t0), event(contracts.DeviceOffline, 2, later)},
		{"offline over online of one connection, though older", event(contracts.DeviceOffline, 2, t0), event(contracts.DeviceOnline, 2, later)},
		{"numbered over unnumbered", event(contracts.DeviceOnline, 1, t0), event(contracts.DeviceOffline, 0, later)},
		{"unnumbered: the later", event(contracts.DeviceOnline, 0, later), event(contracts.DeviceOffline, 0, t0)},
	} {
		if !statustest.Outranks(c.a, c.b) || statustest.Outranks(c.b, c.a) {
			t.Errorf("%s: Outranks(a, b) = %v, Outranks(b, a) = %v; want true, false", c.name, statustest.Outranks(c.a, c.b), statustest.Outranks(c.b, c.a))
		}
	}
	dup := event(contracts.DeviceOffline, 2, t0)
	if statustest.Outranks(dup, dup) {
		t.Error("an event outranks itself")
	}
}
