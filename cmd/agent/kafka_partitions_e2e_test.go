package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/iot-hub/agent/agent/uplink/kafka"
	"github.com/iot-hub/agent/contracts"
)

// TestKafkaKeylessCommandsAllPartitions: the agent with
// commandsPartitions: all and partitioner: legacy (which its log shows)
// answers commands sent without a key, as the platform's kafkajs backend
// sends them, to every partition, and one keyed as kafkajs's
// LegacyPartitioner places it; it counts the commands for another device
// in /metrics.
func TestKafkaKeylessCommandsAllPartitions(t *testing.T) {
	brokers := newKafkaCluster(t)
	const id = "e2e-kafka-all"
	addr := freeAddr(t)
	agent := startAgent(t, writeConfig(t, fmt.Sprintf(`
deviceId: %s
stateDir: %s
log: {level: info, format: json}
health: {enabled: true, listen: %s}
uplink:
  kafka:
    brokers: ["%s"]
    connectTimeout: 5s
    partitioner: legacy
    commandsPartitions: all
`, id, filepath.Join(t.TempDir(), "state"), addr, strings.Join(brokers, `", "`))))
	agent.waitLog(t, `"msg":"kafka: reading commands","topic":"device.commands","partitions":"all","of":3,"partitioner":"legacy"`, 30*time.Second)

	prod, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	send := func(deviceID string, key []byte, p int32) string {
		cid, body := rpcCommand(deviceID, "getDeviceState", "", nil)
		r := &kgo.Record{Topic: contracts.TopicDeviceCommands, Key: key, Value: body, Partition: p}
		if err := prod.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
		return cid
	}
	want := map[string]bool{send(id, []byte(id), kafka.LegacyPartitionFor([]byte(id), 3)): true}
	for p := range int32(3) {
		want[send(id, nil, p)] = true
		send("e2e-kafka-other", nil, p)
	}

	responses := consume(t, brokers, contracts.TopicDeviceResponses)
	defer responses.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for len(want) > 0 && ctx.Err() == nil {
		for _, r := range responses.PollFetches(ctx).Records() {
			m, err := contracts.Decode(r.Value)
			if err != nil {
				t.Fatalf("answer %s: %v", r.Value, err)
			}
			resp := m.(*contracts.DeviceResponseRPC)
			if !want[resp.CorrelationID] || resp.Status != contracts.StatusSuccess || resp.Payload.DeviceID != id {
				t.Fatalf("answer %s; want a success to one of the commands for %s", r.Value, id)
			}
			delete(want, resp.CorrelationID)
		}
	}
	if len(want) > 0 {
		t.Fatalf("%d of the 4 commands for %s not answered within 30 s", len(want), id)
	}
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	waitUntil(t, 30*time.Second, "the 3 commands for another device counted in /metrics", func() bool {
		n, _ := scrapeAgent(t, hc, "http://"+addr).Value("iot_hub_agent_commands_other_devices_total")
		return n == 3
	})
	if code := agent.stop(t, os.Interrupt); code != 0 {
		t.Errorf("exit code after SIGINT = %d; want 0", code)
	}
}
