package mqtt_test

import (
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/uplink/mqtt"
	"github.com/iot-hub/agent/agent/uplink/status"
	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/internal/mqtttest"
	"github.com/iot-hub/agent/internal/statustest"
)

// TestStatusRuleThroughALifetime runs one device through a connection, a
// connection lost, a reconnection, a clean stop, a restart and a kill -9,
// and after each checks that a consumer applying the status rule to
// every status received, in any order and with duplicates, knows the
// device's status; and that each offline has its own correlationId.
func TestStatusRuleThroughALifetime(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{})
	rl := startRelay(t, b.Addr(), false)
	sub := b.Subscribe(t, topics.Status, 1)
	dir := t.TempDir()
	const wait = 30 * time.Second
	is := func(s contracts.DeviceStatus, reason string, after uint64) func(*contracts.DeviceStatusChanged) bool {
		return func(e *contracts.DeviceStatusChanged) bool {
			return e.Payload.Status == s && e.Payload.Reason == reason && e.Payload.Connection > after
		}
	}

	r := startUplink(t, b, dir, mqtt.Config{Settings: mqtt.Settings{Broker: "mqtt://" + rl.addr()}})
	events := statustest.Await(t, sub, wait, "online", is(contracts.DeviceOnline, status.ReasonConnected, 0))
	first := statustest.Check(t, events, statustest.Want{Status: contracts.DeviceOnline, Reason: status.ReasonConnected}, 1).Payload.Connection

	rl.drop() // the broker publishes the Will of the first connection
	events = statustest.Await(t, sub, wait, "Last Will", is(contracts.DeviceOffline, status.ReasonConnectionLost, 0))
	for _, e := range events {
		if e.Payload.Reason == status.ReasonConnectionLost && e.Payload.Connection != first {
			t.Fatalf("the Will says connection %d; want the lost one, %d", e.Payload.Connection, first)
		}
	}
	events = statustest.Await(t, sub, wait, "online again", is(contracts.DeviceOnline, status.ReasonConnected, first))
	second := statustest.Check(t, events, statustest.Want{Status: contracts.DeviceOnline, Reason: status.ReasonConnected}, 2).Payload.Connection

	r.stop()
	events = statustest.Await(t, sub, wait, "stopped", is(contracts.DeviceOffline, status.ReasonStopped, first))
	statustest.Check(t, events, statustest.Want{Status: contracts.DeviceOffline, Reason: status.ReasonStopped, Connection: second}, 3)

	r = startUplink(t, b, dir, mqtt.Config{Settings: mqtt.Settings{Broker: "mqtt://" + rl.addr()}})
	events = statustest.Await(t, sub, wait, "online after a restart", is(contracts.DeviceOnline, status.ReasonConnected, second))
	third := statustest.Check(t, events, statustest.Want{Status: contracts.DeviceOnline, Reason: status.ReasonConnected}, 4).Payload.Connection
	r.stop()
	statustest.Await(t, sub, wait, "stopped again", is(contracts.DeviceOffline, status.ReasonStopped, second))

	killChild(t, startUplinkChild(t, b.URL(), dir)) // online, then kill -9
	events = statustest.Await(t, sub, wait, "Last Will of the killed", is(contracts.DeviceOffline, status.ReasonConnectionLost, third))
	killed := statustest.Check(t, events, statustest.Want{Status: contracts.DeviceOffline, Reason: status.ReasonConnectionLost}, 5)

	// Every offline is its own event: a consumer that drops what it has
	// seen by correlationId keeps them all.
	offlines := make(map[string]bool)
	for _, e := range events {
		if e.Payload.Status == contracts.DeviceOffline {
			offlines[e.CorrelationID] = true
		}
	}
	if len(offlines) < 4 {
		t.Errorf("%d distinct correlationIds among the offlines; want 4 (lost, stopped, stopped, killed)", len(offlines))
	}
	t.Logf("connections %d, %d, %d, %d; %d status events, %d distinct offlines", first, second, third, killed.Payload.Connection, len(events), len(offlines))
}
