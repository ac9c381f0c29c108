package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/internal/mqtttest"
)

// migrationRig is an agent with both uplinks, against mosquitto and a
// kfake cluster, and a client of each that keeps everything it reads.
type migrationRig struct {
	id      string
	topics  contracts.MQTTTopics
	broker  *mqtttest.Broker
	cluster *kfake.Cluster
	brokers []string
	config  string
	state   string
	agent   *agentProc
	mqtt    *rpcClient
	kafka   *kafkaLog
}

// migrationConfig is the agent's configuration in phase: both uplinks,
// the sim sensor read every 100 ms.
func (r *migrationRig) writeConfig(t *testing.T, phase string) {
	t.Helper()
	text := fmt.Sprintf(`
deviceId: %s
stateDir: %s
log: {level: info, format: json}
uplink:
  phase: %s
  failoverAfter: 2s
  mqtt:
    broker: %s
    connectTimeout: 2s
    backoffMin: 100ms
    backoffMax: 1s
  kafka:
    brokers: ["%s"]
    connectTimeout: 2s
sensors:
  - {name: sim, type: sim, interval: 100ms}
`, r.id, r.state, phase, r.broker.URL(), strings.Join(r.brokers, `", "`))
	if err := os.WriteFile(r.config, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

func startMigrationRig(t *testing.T, id, phase string) *migrationRig {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3,
		contracts.TopicDeviceCommands, contracts.TopicDeviceResponses, contracts.TopicDeviceTelemetry,
		contracts.TopicDeviceEvents, contracts.TopicCertificateEvents, contracts.TopicDLQ))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	r := &migrationRig{id: id, broker: mqtttest.Start(t, mqtttest.Options{}), cluster: cluster, brokers: cluster.ListenAddrs(),
		config: filepath.Join(t.TempDir(), "agent.yaml"), state: filepath.Join(t.TempDir(), "state")}
	r.topics, _ = contracts.DeviceTopics(id)
	r.mqtt = dialRPC(t, r.broker.Addr(), id+"-backend", r.topics.Telemetry, r.topics.Responses, r.topics.Status, "replies/"+id)
	r.kafka = readKafka(t, r.brokers, contracts.TopicDeviceTelemetry, contracts.TopicDeviceResponses)
	r.writeConfig(t, phase)
	r.agent = startAgent(t, r.config)
	return r
}

// switchTo rewrites the phase, from one to another, and sends SIGHUP,
// and waits for the agent to log the change.
func (r *migrationRig) switchTo(t *testing.T, from, to string) {
	t.Helper()
	r.writeConfig(t, to)
	if err := r.agent.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	r.agent.waitLog(t, fmt.Sprintf(`"msg":"migration: phase changed","from":%q,"to":%q`, from, to), 20*time.Second)
}

// seqs are the sim sensor's seq numbers in telemetry messages.
func seqsOf(t *testing.T, payloads [][]byte) []int {
	t.Helper()
	var out []int
	for _, p := range payloads {
		m, err := contracts.Decode(p)
		if err != nil {
			t.Fatalf("telemetry %s: %v", p, err)
		}
		for _, rd := range m.(*contracts.DeviceTelemetry).Payload.Readings {
			if rd.Metric == "seq" {
				out = append(out, int(rd.Value))
			}
		}
	}
	return out
}

func (r *migrationRig) mqttSeqs(t *testing.T) []int {
	var ps [][]byte
	for _, m := range r.mqtt.matching(func(m *paho.Publish) bool { return m.Topic == r.topics.Telemetry }) {
		ps = append(ps, m.Payload)
	}
	return seqsOf(t, ps)
}

func (r *migrationRig) kafkaSeqs(t *testing.T) []int {
	return seqsOf(t, r.kafka.values(contracts.TopicDeviceTelemetry))
}

// waitSeqs waits until get returns at least n more seqs than it did.
func waitMore(t *testing.T, what string, get func() []int, n int, within time.Duration) {
	t.Helper()
	start := len(get())
	for deadline := time.Now().Add(within); len(get()) < start+n; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d new readings within %v; want %d", what, len(get())-start, within, n)
		}
	}
}

// kafkaLog keeps every record of some topics.
type kafkaLog struct {
	mu   sync.Mutex
	recs map[string][][]byte
}

func readKafka(t *testing.T, brokers []string, topics ...string) *kafkaLog {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topics...), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	l := &kafkaLog{recs: map[string][][]byte{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			l.mu.Lock()
			for _, rec := range fs.Records() {
				l.recs[rec.Topic] = append(l.recs[rec.Topic], rec.Value)
			}
			l.mu.Unlock()
			if len(fs.Errors()) > 0 {
				time.Sleep(100 * time.Millisecond) // the cluster is gone: no spin
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done; cl.Close() })
	return l
}

// holds reports whether a record of topic holds s.
func (l *kafkaLog) holds(topic, s string) bool {
	for _, v := range l.values(topic) {
		if strings.Contains(string(v), s) {
			return true
		}
	}
	return false
}

// sendKafka produces a getDeviceState command for the agent on
// device.commands, keyed by its id, and returns its correlationId.
func (r *migrationRig) sendKafka(t *testing.T) string {
	t.Helper()
	prod, err := kgo.NewClient(kgo.SeedBrokers(r.brokers...), kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	cid, body := rpcCommand(r.id, "getDeviceState", "", nil)
	rec := &kgo.Record{Topic: contracts.TopicDeviceCommands, Key: []byte(r.id), Value: body, Headers: []kgo.RecordHeader{
		{Key: contracts.HeaderEventType, Value: []byte(contracts.TypeDeviceCommandRPC)},
		{Key: contracts.HeaderCorrelationID, Value: []byte(cid)},
		{Key: contracts.HeaderVersion, Value: []byte(contracts.Version)},
	}}
	if err := prod.ProduceSync(context.Background(), rec).FirstErr(); err != nil {
		t.Fatalf("produce a command: %v", err)
	}
	return cid
}

func (l *kafkaLog) values(topic string) [][]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.recs[topic])
}

// contiguous reports the numbers missing between the lowest and the
// highest of seqs, and how many come more than once.
func contiguous(seqs []int) (missing []int, dups int) {
	if len(seqs) == 0 {
		return nil, 0
	}
	seen := map[int]int{}
	lo, hi := seqs[0], seqs[0]
	for _, s := range seqs {
		seen[s]++
		lo, hi = min(lo, s), max(hi, s)
	}
	for s := lo; s <= hi; s++ {
		switch n := seen[s]; {
		case n == 0:
			missing = append(missing, s)
		case n > 1:
			dups += n - 1
		}
	}
	return missing, dups
}

// deviceState asks the agent for its state over MQTT and returns the
// migration part of it.
func (r *migrationRig) migrationState(t *testing.T) map[string]any {
	t.Helper()
	cid, body := rpcCommand(r.id, "getDeviceState", "", nil)
	props := &paho.PublishProperties{ResponseTopic: "replies/" + r.id, CorrelationData: []byte(cid)}
	if err := r.mqtt.publish(context.Background(), r.topics.Commands, body, props); err != nil {
		t.Fatal(err)
	}
	msgs, ok := r.mqtt.waitN(1, rpcWait, func(m *paho.Publish) bool {
		return m.Properties != nil && string(m.Properties.CorrelationData) == cid
	})
	if !ok {
		t.Fatalf("no answer to getDeviceState within %v", rpcWait)
	}
	m, err := contracts.Decode(msgs[0].Payload)
	if err != nil {
		t.Fatalf("answer %s: %v", msgs[0].Payload, err)
	}
	mig, _ := result(t, m.(*contracts.DeviceResponseRPC))["migration"].(map[string]any)
	return mig
}

// TestMigrationPhases runs one agent through the platform's phases, A to
// C, then B with Kafka gone, switched by SIGHUP with telemetry flowing
// every 100 ms, and checks what each path carried: in A, every reading
// on both; in C, Kafka alone, and MQTT's status offline; in B, Kafka
// alone until Kafka goes, then MQTT. Across it all, no reading is lost:
// the seq numbers that arrived, on Kafka or MQTT, have no gap.
func TestMigrationPhases(t *testing.T) {
	const id = "e2e-migration"
	r := startMigrationRig(t, id, "A")

	// Phase A: both paths carry every reading, and each command is
	// answered on the uplink it came on.
	waitMore(t, "phase A, MQTT", func() []int { return r.mqttSeqs(t) }, 20, 30*time.Second)
	waitMore(t, "phase A, Kafka", func() []int { return r.kafkaSeqs(t) }, 20, 30*time.Second)
	if ph := r.migrationState(t)["phase"]; ph != "A" {
		t.Errorf("getDeviceState migration.phase = %v; want A", ph)
	}
	onMQTT, onKafka := r.mqttSeqs(t), r.kafkaSeqs(t)
	upTo := min(slices.Max(onMQTT), slices.Max(onKafka))
	for _, s := range onMQTT {
		if s <= upTo && !slices.Contains(onKafka, s) {
			t.Errorf("phase A: reading %d went out on MQTT, not on Kafka", s)
		}
	}
	for _, s := range onKafka {
		if s <= upTo && !slices.Contains(onMQTT, s) {
			t.Errorf("phase A: reading %d went out on Kafka, not on MQTT", s)
		}
	}
	for _, v := range r.kafka.values(contracts.TopicDeviceResponses) {
		t.Errorf("an answer on Kafka to a command that came on MQTT: %s", v)
	}
	r.agent.waitLog(t, `"msg":"kafka: reading commands"`, 30*time.Second) // from its partition's end
	cid := r.sendKafka(t)
	for deadline := time.Now().Add(rpcWait); !r.kafka.holds(contracts.TopicDeviceResponses, cid); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no answer on Kafka to a command produced on Kafka within %v", rpcWait)
		}
	}
	if ms := r.mqtt.matching(func(m *paho.Publish) bool { return strings.Contains(string(m.Payload), cid) }); len(ms) > 0 {
		t.Errorf("the answer to a Kafka command went out on MQTT too, on %s", ms[0].Topic)
	}

	// Phase C: Kafka alone; the MQTT uplink stops, and says so.
	r.switchTo(t, "A", "C")
	waitStatus(t, r.broker.Addr(), r.topics.Status, contracts.DeviceOffline, 20*time.Second)
	mqttAtC := len(r.mqttSeqs(t))
	waitMore(t, "phase C, Kafka", func() []int { return r.kafkaSeqs(t) }, 20, 30*time.Second)
	if n := len(r.mqttSeqs(t)); n != mqttAtC {
		t.Errorf("phase C: %d readings on MQTT after its uplink stopped", n-mqttAtC)
	}

	// Phase B: MQTT back for commands, readings on Kafka alone.
	r.switchTo(t, "C", "B")
	waitStatus(t, r.broker.Addr(), r.topics.Status, contracts.DeviceOnline, 20*time.Second)
	mqttAtB := len(r.mqttSeqs(t))
	waitMore(t, "phase B, Kafka", func() []int { return r.kafkaSeqs(t) }, 20, 30*time.Second)
	m := r.migrationState(t)
	if m["phase"] != "B" || m["failedOver"] != false {
		t.Errorf("getDeviceState migration = %v; want phase B, not failed over", m)
	}
	if n := len(r.mqttSeqs(t)); n != mqttAtB {
		t.Errorf("phase B with Kafka up: %d readings on MQTT", n-mqttAtB)
	}

	// Kafka goes: after failoverAfter the readings go out on MQTT,
	// those queued meanwhile too.
	kafkaLast := slices.Max(r.kafkaSeqs(t))
	r.cluster.Close()
	r.agent.waitLog(t, "migration: Kafka is out", 30*time.Second)
	waitMore(t, "phase B failed over, MQTT", func() []int { return r.mqttSeqs(t) }, 30, 30*time.Second)
	if m := r.migrationState(t); m["failedOver"] != true {
		t.Errorf("getDeviceState migration = %v; want failedOver", m)
	}
	if code := r.agent.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit code after SIGTERM = %d; want 0", code)
	}

	all := append(r.kafkaSeqs(t), r.mqttSeqs(t)...)
	missing, dups := contiguous(all)
	if len(missing) > 0 {
		t.Errorf("readings lost on both paths: %v", missing)
	}
	mqttAfter := seqsOf(t, nil)
	for _, s := range r.mqttSeqs(t) {
		if s > kafkaLast {
			mqttAfter = append(mqttAfter, s)
		}
	}
	t.Logf("%d readings, seq %d..%d; on Kafka %d, on MQTT %d (%d after Kafka went); %d on both paths",
		len(all)-dups, slices.Min(all), slices.Max(all), len(r.kafkaSeqs(t)), len(r.mqttSeqs(t)), len(mqttAfter), dups)
}
