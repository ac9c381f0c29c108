package main

import (
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/iot-hub/agent/agent/uplink/status"
	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/internal/mqtttest"
	"github.com/iot-hub/agent/internal/statustest"
)

// statusIs matches a status event of reason with a connection number
// above after.
func statusIs(s contracts.DeviceStatus, reason string, after uint64) func(*contracts.DeviceStatusChanged) bool {
	return func(e *contracts.DeviceStatusChanged) bool {
		return e.Payload.Status == s && e.Payload.Reason == reason && e.Payload.Connection > after
	}
}

// TestStatusRuleWithTheAgentOverMQTT runs the agent against mosquitto
// through a connect, a broker restart (the connection lost), a clean
// stop, a restart and a kill -9. After each, a consumer applying the
// status rule to every status received, shuffled and duplicated, knows
// the device's status, and the broker's retained status agrees.
func TestStatusRuleWithTheAgentOverMQTT(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{Persistence: true})
	const id = "e2e-status"
	topics, _ := contracts.DeviceTopics(id)
	sub := b.Subscribe(t, topics.Status, 1)
	path := writeConfig(t, fmt.Sprintf(`
deviceId: %s
stateDir: %s
log: {level: info, format: json}
uplink:
  mqtt:
    broker: %s
    connectTimeout: 5s
    backoffMin: 100ms
    backoffMax: 1s
sensors:
  - {name: sim, type: sim, interval: 1s}
`, id, filepath.Join(t.TempDir(), "state"), b.URL()))
	const wait = 30 * time.Second
	online := statustest.Want{Status: contracts.DeviceOnline, Reason: status.ReasonConnected}

	agent := startAgent(t, path)
	events := statustest.Await(t, sub, wait, "online", statusIs(contracts.DeviceOnline, status.ReasonConnected, 0))
	first := statustest.Check(t, events, online, 1).Payload.Connection

	b.Restart(t) // the agent's connection ends; it connects again
	events = statustest.Await(t, sub, wait, "online after the broker's restart", statusIs(contracts.DeviceOnline, status.ReasonConnected, first))
	second := statustest.Check(t, events, online, 2).Payload.Connection

	if code := agent.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d; want 0", code)
	}
	events = statustest.Await(t, sub, wait, "stopped", statusIs(contracts.DeviceOffline, status.ReasonStopped, first))
	checkRetained(t, b, topics.Status, statustest.Check(t, events,
		statustest.Want{Status: contracts.DeviceOffline, Reason: status.ReasonStopped, Connection: second}, 3))

	agent = startAgent(t, path)
	events = statustest.Await(t, sub, wait, "online after a restart", statusIs(contracts.DeviceOnline, status.ReasonConnected, second))
	third := statustest.Check(t, events, online, 4).Payload.Connection

	if err := agent.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	agent.waitExit(t, 10*time.Second, "the agent did not die of SIGKILL")
	events = statustest.Await(t, sub, wait, "Last Will of the killed agent", statusIs(contracts.DeviceOffline, status.ReasonConnectionLost, third-1))
	killed := statustest.Check(t, events, statustest.Want{Status: contracts.DeviceOffline, Reason: status.ReasonConnectionLost, Connection: third}, 5)
	checkRetained(t, b, topics.Status, killed)
	t.Logf("connections %d, %d, %d; %d status events", first, second, third, len(events))
}

// checkRetained checks that a new subscriber to topic gets want as the
// retained status.
func checkRetained(t *testing.T, b *mqtttest.Broker, topic string, want *contracts.DeviceStatusChanged) {
	t.Helper()
	late := b.Subscribe(t, topic, 1)
	defer late.Close()
	got := statustest.Decode(t, late.WaitFor(t, 1, 10*time.Second)[0].Payload)[0]
	if got.CorrelationID != want.CorrelationID {
		t.Errorf("retained status %s (%s, connection %d); want the current one, %s (%s, connection %d)",
			got.Payload.Status, got.Payload.Reason, got.Payload.Connection, want.Payload.Status, want.Payload.Reason, want.Payload.Connection)
	}
}

// TestStatusRuleWithTheAgentOverKafka runs the agent with the Kafka uplink
// through a start, a kill -9, a restart and a clean stop. Kafka has no
// Last Will: after the kill the consumer still sees the device online,
// until the restart's online, of a higher connection number.
func TestStatusRuleWithTheAgentOverKafka(t *testing.T) {
	brokers := newKafkaCluster(t)
	const id = "e2e-kafka-status"
	path := kafkaConfig(t, id, brokers)
	cl := consume(t, brokers, contracts.TopicDeviceEvents)
	defer cl.Close()
	var events []*contracts.DeviceStatusChanged
	await := func(what string, ok func(*contracts.DeviceStatusChanged) bool) {
		t.Helper()
		waitRecord(t, cl, 30*time.Second, func(r *kgo.Record) bool {
			if string(r.Key) != id {
				return false
			}
			e := statustest.Decode(t, r.Value)[0]
			events = append(events, e)
			return ok(e)
		})
	}
	started := statustest.Want{Status: contracts.DeviceOnline, Reason: status.ReasonStarted}

	agent := startAgent(t, path)
	await("online", statusIs(contracts.DeviceOnline, status.ReasonStarted, 0))
	first := statustest.Check(t, events, started, 1).Payload.Connection
	if err := agent.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	agent.waitExit(t, 10*time.Second, "the agent did not die of SIGKILL")
	statustest.Check(t, events, statustest.Want{Status: contracts.DeviceOnline, Reason: status.ReasonStarted, Connection: first}, 2)

	agent = startAgent(t, path)
	await("online after the kill", statusIs(contracts.DeviceOnline, status.ReasonStarted, first))
	second := statustest.Check(t, events, started, 3).Payload.Connection
	if code := agent.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d; want 0", code)
	}
	await("stopped", statusIs(contracts.DeviceOffline, status.ReasonStopped, first))
	statustest.Check(t, events, statustest.Want{Status: contracts.DeviceOffline, Reason: status.ReasonStopped, Connection: second}, 4)
	t.Logf("connections %d, %d; %d status events", first, second, len(events))
}
