package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/iot-hub/agent/contracts"
)

// TestKafkaUplinkWithKcat runs the agent with the Kafka uplink against an
// in-process cluster of three brokers (franz-go's kfake): its telemetry
// reaches device.telemetry, and a command that kcat (librdkafka, a client
// nobody here wrote) produces keyed by the device id, with librdkafka's
// murmur2_random partitioner, is answered on device.responses, where kcat
// reads the answer.
func TestKafkaUplinkWithKcat(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("kcat is not installed (Debian's kcat package); .ci/run installs it")
		}
		t.Skip("kcat is not installed (apt-get install kcat); this interop test needs it")
	}
	brokers := newKafkaCluster(t)
	const id = "e2e-kafka-gw"
	agent := startAgent(t, kafkaConfig(t, id, brokers))

	// Its telemetry arrives, keyed by the device id.
	tel := consume(t, brokers, contracts.TopicDeviceTelemetry)
	defer tel.Close()
	r := waitRecord(t, tel, 30*time.Second, func(r *kgo.Record) bool { return string(r.Key) == id })
	if m, err := contracts.Decode(r.Value); err != nil || m.(*contracts.DeviceTelemetry).Payload.DeviceID != id {
		t.Fatalf("telemetry record %s: %v", r.Value, err)
	}

	// kcat sends commands until one is answered: the agent reads its
	// partition from its end, from the moment it has looked it up.
	deadline := time.Now().Add(60 * time.Second)
	for {
		cid, body := rpcCommand(id, "getDeviceState", "", nil)
		produce := exec.Command(kcat, "-b", strings.Join(brokers, ","), "-P", "-t", contracts.TopicDeviceCommands,
			"-k", id, "-X", "topic.partitioner=murmur2_random",
			"-H", "eventType=device.command.rpc", "-H", "correlationId="+cid, "-H", "__version=v1")
		produce.Stdin = bytes.NewReader(append(body, '\n'))
		if out, err := produce.CombinedOutput(); err != nil {
			t.Fatalf("kcat -P: %v\n%s", err, out)
		}
		answer, ok := kcatFind(t, kcat, brokers, contracts.TopicDeviceResponses, cid, 3*time.Second)
		if ok {
			m, err := contracts.Decode([]byte(answer))
			if err != nil {
				t.Fatalf("the answer %s does not decode: %v", answer, err)
			}
			resp := m.(*contracts.DeviceResponseRPC)
			if resp.Status != contracts.StatusSuccess || resp.CorrelationID != cid || resp.Payload.DeviceID != id {
				t.Fatalf("answer %s; want a success for %s", answer, cid)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no answer on %s to a command kcat produced, within 60 s", contracts.TopicDeviceResponses)
		}
	}
	if code := agent.stop(t, os.Interrupt); code != 0 {
		t.Errorf("exit code after SIGINT = %d; want 0", code)
	}
}

// newKafkaCluster starts a cluster of three brokers (kfake), closed when
// the test ends, with the contracts' topics, three partitions each, and
// returns its addresses.
func newKafkaCluster(t *testing.T) []string {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(3,
		contracts.TopicDeviceCommands, contracts.TopicDeviceResponses, contracts.TopicDeviceTelemetry,
		contracts.TopicDeviceEvents, contracts.TopicDLQ))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	return cluster.ListenAddrs()
}

// kafkaConfig writes the config of agent id with the Kafka uplink to
// brokers, a state directory of its own and the sim sensor, and returns
// its path.
func kafkaConfig(t *testing.T, id string, brokers []string) string {
	t.Helper()
	return writeConfig(t, fmt.Sprintf(`
deviceId: %s
stateDir: %s
log: {level: info, format: json}
uplink:
  kafka:
    brokers: ["%s"]
    connectTimeout: 5s
sensors:
  - {name: sim, type: sim, interval: 1s}
`, id, filepath.Join(t.TempDir(), "state"), strings.Join(brokers, `", "`)))
}

// consume returns a client reading topic from its start.
func consume(t *testing.T, brokers []string, topic string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// waitRecord returns the first record cl reads that match accepts,
// failing the test after within.
func waitRecord(t *testing.T, cl *kgo.Client, within time.Duration, match func(*kgo.Record) bool) *kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("no matching record within %v", within)
		}
		for _, r := range fs.Records() {
			if match(r) {
				return r
			}
		}
	}
}

// kcatFind reads topic from its start with kcat and returns the value of
// the first record whose value holds s, trying for up to within.
func kcatFind(t *testing.T, kcat string, brokers []string, topic, s string, within time.Duration) (string, bool) {
	t.Helper()
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		out, err := exec.Command(kcat, "-b", strings.Join(brokers, ","), "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%s\n").Output()
		if err != nil {
			t.Fatalf("kcat -C %s: %v", topic, err)
		}
		for line := range strings.Lines(string(out)) {
			if strings.Contains(line, s) {
				return strings.TrimSpace(line), true
			}
		}
	}
	return "", false
}
