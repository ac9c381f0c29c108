package kafka_test

import (
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/uplink/kafka"
	"github.com/iot-hub/agent/agent/uplink/status"
	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/internal/statustest"
)

// TestStatusRuleAcrossRestarts starts, stops and starts again an uplink on
// one outbox, and after each checks that a consumer applying the status
// rule to every status produced, in any order and with duplicates, knows
// the device's status: each start has a higher connection number, which
// its offline "stopped" repeats.
func TestStatusRuleAcrossRestarts(t *testing.T) {
	c := newCluster(t)
	dir := t.TempDir()
	rd := newReader(t, c, []string{contracts.TopicDeviceEvents})
	var events []*contracts.DeviceStatusChanged
	readStatus := func(n int) {
		t.Helper()
		for _, rec := range rd.read(t, n, 0, 30*time.Second) {
			events = append(events, statustest.Decode(t, rec.Value)...)
		}
	}

	box := openStore(t, dir)
	r := startUplink(t, c, box, kafka.Config{}, nil)
	readStatus(1)
	first := statustest.Check(t, events, statustest.Want{Status: contracts.DeviceOnline, Reason: status.ReasonStarted}, 1).Payload.Connection
	r.stop()
	readStatus(1)
	statustest.Check(t, events, statustest.Want{Status: contracts.DeviceOffline, Reason: status.ReasonStopped, Connection: first}, 2)
	box.Close()

	box = openStore(t, dir)
	r = startUplink(t, c, box, kafka.Config{}, nil)
	readStatus(1)
	second := statustest.Check(t, events, statustest.Want{Status: contracts.DeviceOnline, Reason: status.ReasonStarted}, 3).Payload.Connection
	if second <= first {
		t.Fatalf("connection %d after a restart; want more than %d", second, first)
	}
	r.stop()
	readStatus(1)
	statustest.Check(t, events, statustest.Want{Status: contracts.DeviceOffline, Reason: status.ReasonStopped, Connection: second}, 4)
	if events[0].CorrelationID == events[1].CorrelationID || events[1].CorrelationID == events[3].CorrelationID {
		t.Error("two status events share a correlationId")
	}
}
