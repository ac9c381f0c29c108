package main

import (
	"context"
	stdjson "encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/iot-hub/agent/agent/config"
	"github.com/iot-hub/agent/agent/uplink/kafka"
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
	out     atomic.Bool // the cluster drops every connection
	brokers []string
	config  string
	state   string
	agent   *agentProc
	mqtt    *rpcClient           // commands, answers, status
	tel     *mqtttest.Subscriber // telemetry, across broker restarts
	kafka   *kafkaLog
	sims    int // sim sensors, each read every 100 ms
}

// writeConfig writes the agent's configuration in phase: both uplinks,
// r.sims sim sensors read every 100 ms.
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
%s`, r.id, r.state, phase, r.broker.URL(), strings.Join(r.brokers, `", "`), sims(r.sims))
	if err := os.WriteFile(r.config, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// sims is the sensors section of n sim sensors, sim0 to sim<n-1>, read
// every 100 ms, their fastest.
func sims(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "  - {name: sim%d, type: sim, interval: 100ms}\n", i)
	}
	return b.String()
}

// startMigrationRig starts mosquitto (persistent: the telemetry
// subscriber's session outlives a restart), a Kafka cluster and the
// agent in phase, reading n sim sensors, ten readings a second each.
func startMigrationRig(t *testing.T, id, phase string, n int) *migrationRig {
	t.Helper()
	r := &migrationRig{id: id, broker: mqtttest.Start(t, mqtttest.Options{Persistence: true}), sims: n,
		config: filepath.Join(t.TempDir(), "agent.yaml"), state: filepath.Join(t.TempDir(), "state")}
	r.startKafka(t)
	r.topics, _ = contracts.DeviceTopics(id)
	r.mqtt = dialRPC(t, r.broker.Addr(), id+"-backend", r.topics.Responses, r.topics.Status, "replies/"+id)
	r.tel = r.broker.Subscribe(t, r.topics.Telemetry, 1)
	r.kafka = readKafka(t, r.brokers, contracts.TopicDeviceTelemetry, contracts.TopicDeviceResponses)
	r.writeConfig(t, phase)
	r.agent = startAgent(t, r.config)
	return r
}

// startKafka starts a cluster of one broker with the contracts' topics,
// which drops every connection while r.out is set: Kafka out, and back
// with its topics and records as they were.
func (r *migrationRig) startKafka(t *testing.T) {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3,
		contracts.TopicDeviceCommands, contracts.TopicDeviceResponses, contracts.TopicDeviceTelemetry,
		contracts.TopicDeviceEvents, contracts.TopicCertificateEvents, contracts.TopicDLQ))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	cluster.Control(func(kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		if r.out.Load() {
			return nil, errKafkaOut, true // the connection is closed
		}
		return nil, nil, false
	})
	r.cluster, r.brokers = cluster, cluster.ListenAddrs()
}

var errKafkaOut = errors.New("kafka is out")

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

// seqsOf returns the readings of the sim sensors in telemetry messages,
// each as one number: the sensor's seq, plus its index (simN) times
// seqSpan, so that each sensor's readings are a range of their own.
func seqsOf(t *testing.T, payloads [][]byte) []int {
	t.Helper()
	var out []int
	for _, p := range payloads {
		m, err := contracts.Decode(p)
		if err != nil {
			t.Fatalf("telemetry %s: %v", p, err)
		}
		for _, rd := range m.(*contracts.DeviceTelemetry).Payload.Readings {
			n, err := strconv.Atoi(strings.TrimPrefix(rd.Sensor, "sim"))
			if rd.Metric == "seq" && err == nil {
				out = append(out, n*seqSpan+int(rd.Value))
			}
		}
	}
	return out
}

// seqSpan separates the sensors' seqs in seqsOf.
const seqSpan = 10_000_000

func (r *migrationRig) mqttSeqs(t *testing.T) []int {
	var ps [][]byte
	for _, m := range r.tel.Messages() {
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

// kafkaAnswer waits up to rpcWait for the answer to the command cid on
// device.responses and returns it.
func (r *migrationRig) kafkaAnswer(t *testing.T, cid string) []byte {
	t.Helper()
	for deadline := time.Now().Add(rpcWait); ; time.Sleep(50 * time.Millisecond) {
		for _, v := range r.kafka.values(contracts.TopicDeviceResponses) {
			if strings.Contains(string(v), cid) {
				return v
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no answer on Kafka to the command %s within %v", cid, rpcWait)
		}
	}
}

// sendKafka produces a getDeviceState command for the agent on
// device.commands, keyed by its id, and returns its correlationId.
func (r *migrationRig) sendKafka(t *testing.T) string {
	t.Helper()
	r.agent.waitLog(t, `"msg":"kafka: reading commands"`, 30*time.Second) // from its partition's end
	prod, err := kgo.NewClient(kgo.SeedBrokers(r.brokers...), kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	cid, rec := kafkaCommand(r.id)
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

// contiguous reports, sensor by sensor (seqsOf), the readings missing
// between the lowest and the highest, and how many come more than once.
func contiguous(seqs []int) (missing []int, dups int) {
	seen := map[int]int{}
	lo, hi := map[int]int{}, map[int]int{}
	for _, s := range seqs {
		seen[s]++
		k := s / seqSpan
		if _, ok := lo[k]; !ok {
			lo[k], hi[k] = s, s
		}
		lo[k], hi[k] = min(lo[k], s), max(hi[k], s)
	}
	for k := range lo {
		for s := lo[k]; s <= hi[k]; s++ {
			switch n := seen[s]; {
			case n == 0:
				missing = append(missing, s)
			case n > 1:
				dups += n - 1
			}
		}
	}
	slices.Sort(missing)
	return missing, dups
}

// callMQTT sends the command method with params over MQTT, with a
// Response Topic, and returns the answer's bytes.
func (r *migrationRig) callMQTT(t *testing.T, method, params string) []byte {
	t.Helper()
	cid, body := rpcCommand(r.id, method, params, nil)
	props := &paho.PublishProperties{ResponseTopic: "replies/" + r.id, CorrelationData: []byte(cid)}
	if err := r.mqtt.publish(context.Background(), r.topics.Commands, body, props); err != nil {
		t.Fatal(err)
	}
	msgs, ok := r.mqtt.waitN(1, rpcWait, func(m *paho.Publish) bool {
		return m.Properties != nil && string(m.Properties.CorrelationData) == cid
	})
	if !ok {
		t.Fatalf("no answer to %s within %v", method, rpcWait)
	}
	return msgs[0].Payload
}

// migrationState asks the agent for its state over the uplink over
// (config.UplinkMQTT or UplinkKafka) and returns the migration part of
// it.
func (r *migrationRig) migrationState(t *testing.T, over string) map[string]any {
	t.Helper()
	var answer []byte
	if over == config.UplinkKafka {
		answer = r.kafkaAnswer(t, r.sendKafka(t))
	} else {
		answer = r.callMQTT(t, "getDeviceState", "")
	}
	m, err := contracts.Decode(answer)
	if err != nil {
		t.Fatalf("answer %s: %v", answer, err)
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
	t.Parallel() // it waits most of its time: beside the other slow end-to-end tests
	const id = "e2e-migration"
	r := startMigrationRig(t, id, "A", 1)

	// Phase A: both paths carry every reading, and each command is
	// answered on the uplink it came on.
	waitMore(t, "phase A, MQTT", func() []int { return r.mqttSeqs(t) }, 20, 30*time.Second)
	waitMore(t, "phase A, Kafka", func() []int { return r.kafkaSeqs(t) }, 20, 30*time.Second)
	if ph := r.migrationState(t, config.UplinkMQTT)["phase"]; ph != "A" {
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
	cid := r.sendKafka(t)
	r.kafkaAnswer(t, cid)
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
	m := r.migrationState(t, config.UplinkMQTT)
	if m["phase"] != "B" || m["failedOver"] != false {
		t.Errorf("getDeviceState migration = %v; want phase B, not failed over", m)
	}
	if n := len(r.mqttSeqs(t)); n != mqttAtB {
		t.Errorf("phase B with Kafka up: %d readings on MQTT", n-mqttAtB)
	}

	// Kafka goes: after failoverAfter the readings go out on MQTT,
	// those queued meanwhile too.
	kafkaLast := slices.Max(r.kafkaSeqs(t))
	r.out.Store(true)
	r.agent.waitLog(t, "migration: Kafka is out", 30*time.Second)
	waitMore(t, "phase B failed over, MQTT", func() []int { return r.mqttSeqs(t) }, 30, 30*time.Second)
	if m := r.migrationState(t, config.UplinkMQTT); m["failedOver"] != true {
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

// noneLost checks that no reading is missing from the two paths together,
// but those of inFlight, and returns how many arrived on both.
func (r *migrationRig) noneLost(t *testing.T, inFlight map[int]bool) (both int) {
	t.Helper()
	all := append(r.kafkaSeqs(t), r.mqttSeqs(t)...)
	missing, dups := contiguous(all)
	lost := len(missing)
	missing = slices.DeleteFunc(missing, func(s int) bool { return inFlight[s] })
	if n := lost - len(missing); n > 0 {
		t.Logf("%d readings in flight at the kill lost, of %d sensors", n, len(inFlight))
	}
	if len(missing) > 0 {
		t.Errorf("%d readings lost on both paths: %v", len(missing), missing[:min(len(missing), 20)])
	}
	return dups
}

// lastRead returns, for a stopped agent, the last seq each sim sensor
// gave a read (its seq file), as seqsOf numbers them. After a kill -9 it
// is the reading whose Append may not have returned: the only one of the
// sensor's that the outbox may lack (design.md: nothing lost that
// Append had returned for; a sensor's reads take turns).
func (r *migrationRig) lastRead(t *testing.T) map[int]bool {
	t.Helper()
	out := map[int]bool{}
	for i := range r.sims {
		b, err := os.ReadFile(filepath.Join(r.state, fmt.Sprintf("sim-sim%d.seq", i)))
		if err != nil {
			t.Fatal(err)
		}
		seq, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			t.Fatalf("sim%d's seq file: %v", i, err)
		}
		out[i*seqSpan+seq] = true
	}
	return out
}

// kafkaWindow is the Kafka uplink's window: the most it has in flight.
var kafkaWindow = kafka.DefaultConfig().Window

// TestMigrationFailoverAndBack: in phase B, Kafka goes out; after
// failoverAfter MQTT carries the readings, those Kafka had queued too;
// Kafka comes back (an empty cluster on the same port) and carries
// again, MQTT no longer. No reading is lost, and those sent on both are
// fewer than Kafka's window.
func TestMigrationFailoverAndBack(t *testing.T) {
	t.Parallel() // it waits most of its time: beside the other slow end-to-end tests
	r := startMigrationRig(t, "e2e-failback", "B", 2)
	waitMore(t, "Kafka", func() []int { return r.kafkaSeqs(t) }, 20, 30*time.Second)
	if n := len(r.mqttSeqs(t)); n != 0 {
		t.Errorf("phase B with Kafka up: %d readings on MQTT", n)
	}
	r.out.Store(true)
	r.agent.waitLog(t, "migration: Kafka is out", 30*time.Second)
	waitMore(t, "MQTT, failed over", func() []int { return r.mqttSeqs(t) }, 40, 30*time.Second)

	r.out.Store(false)
	r.agent.waitLog(t, "migration: Kafka is back", 60*time.Second)
	kafkaBack := len(r.kafkaSeqs(t))
	waitMore(t, "Kafka, back", func() []int { return r.kafkaSeqs(t) }, 40, 60*time.Second)
	mqttThen := len(r.mqttSeqs(t))
	waitMore(t, "Kafka, still", func() []int { return r.kafkaSeqs(t) }, 20, 30*time.Second)
	if n := len(r.mqttSeqs(t)) - mqttThen; n != 0 {
		t.Errorf("%d readings on MQTT after Kafka was back and carrying", n)
	}
	dup := r.migrationState(t, config.UplinkMQTT)["duplicates"]
	if code := r.agent.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit code after SIGTERM = %d; want 0", code)
	}
	both := r.noneLost(t, nil)
	if both > kafkaWindow {
		t.Errorf("%d readings on both paths; want at most the Kafka window, %d", both, kafkaWindow)
	}
	t.Logf("Kafka %d readings (%d after it came back), MQTT %d; %d on both paths, %v counted by the agent",
		len(r.kafkaSeqs(t)), len(r.kafkaSeqs(t))-kafkaBack, len(r.mqttSeqs(t)), both, dup)
}

// TestMigrationOneUplinkDown: in phase A, mosquitto is down while 3,000
// readings are taken (ten sensors, 100 readings a second, 30 s: the
// readings of ten minutes at 5 a second); Kafka delivers them as they
// come, and MQTT gets every one of them once the broker is back.
func TestMigrationOneUplinkDown(t *testing.T) {
	t.Parallel() // it waits most of its time: beside the other slow end-to-end tests
	r := startMigrationRig(t, "e2e-one-down", "A", 10)
	waitMore(t, "MQTT", func() []int { return r.mqttSeqs(t) }, 50, 30*time.Second)
	r.broker.Stop()
	before, eventsBefore := len(r.kafkaSeqs(t)), len(r.kafka.values(contracts.TopicDeviceTelemetry))
	waitMore(t, "Kafka, MQTT down", func() []int { return r.kafkaSeqs(t) }, 3000, 120*time.Second)
	// The readings of a window share an event: MQTT's queue holds the
	// events Kafka got meanwhile, most of them.
	events := len(r.kafka.values(contracts.TopicDeviceTelemetry)) - eventsBefore
	if st := uplinkQueued(r.migrationState(t, config.UplinkKafka)); st[config.UplinkMQTT] < float64(events*5/6) {
		t.Errorf("iot_hub_agent_uplink_queued{uplink=mqtt} = %v with MQTT down; want the events since, %d", st["mqtt"], events)
	}
	r.broker.Restart(t)
	kafkaNow := r.kafkaSeqs(t)
	last := slices.Max(kafkaNow)
	for deadline := time.Now().Add(120 * time.Second); !slices.Contains(r.mqttSeqs(t), last); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("MQTT did not get reading %d within 120 s of the broker's return (%d readings)", last, len(r.mqttSeqs(t)))
		}
	}
	onMQTT := r.mqttSeqs(t)
	var lacking []int
	for _, s := range kafkaNow {
		if !slices.Contains(onMQTT, s) {
			lacking = append(lacking, s)
		}
	}
	if len(lacking) > 0 {
		t.Errorf("%d readings Kafka got while MQTT was down never reached MQTT: %v", len(lacking), lacking[:min(len(lacking), 20)])
	}
	if code := r.agent.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit code after SIGTERM = %d; want 0", code)
	}
	r.noneLost(t, nil)
	t.Logf("%d readings on Kafka while MQTT was down, all on MQTT after; %d on MQTT in all", len(kafkaNow)-before, len(onMQTT))
}

// TestMigrationKillDuringSwitch: in phase A with Kafka out (its share
// queued), the phase goes to B and the agent is killed (SIGKILL) as it
// enters it. Started again, still in B with Kafka out, it fails over:
// MQTT carries what Kafka lacked and MQTT had not had; once Kafka is
// back it carries again. No reading is lost, but for the one a sensor
// may have had on its way into the outbox at the kill (read, its Append
// not yet returned: the rule is about what Append returned for).
func TestMigrationKillDuringSwitch(t *testing.T) {
	t.Parallel() // it waits most of its time: beside the other slow end-to-end tests
	r := startMigrationRig(t, "e2e-kill-switch", "A", 5)
	waitMore(t, "Kafka", func() []int { return r.kafkaSeqs(t) }, 20, 30*time.Second)
	r.out.Store(true)
	waitMore(t, "MQTT, Kafka out", func() []int { return r.mqttSeqs(t) }, 200, 30*time.Second)
	r.switchTo(t, "A", "B")
	if err := r.agent.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	r.agent.waitExit(t, 10*time.Second, "the agent did not die of SIGKILL")
	mqttAtKill := len(r.mqttSeqs(t))
	inFlight := r.lastRead(t)

	r.agent = startAgent(t, r.config)
	r.agent.waitLog(t, "migration: Kafka is out", 30*time.Second)
	waitMore(t, "MQTT, failed over after the restart", func() []int { return r.mqttSeqs(t) }, 100, 30*time.Second)
	r.out.Store(false)
	r.agent.waitLog(t, "migration: Kafka is back", 60*time.Second)
	waitMore(t, "Kafka, back", func() []int { return r.kafkaSeqs(t) }, 50, 60*time.Second)
	if code := r.agent.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit code after SIGTERM = %d; want 0", code)
	}
	both := r.noneLost(t, inFlight)
	t.Logf("MQTT %d readings (%d at the kill), Kafka %d; %d on both paths", len(r.mqttSeqs(t)), mqttAtKill, len(r.kafkaSeqs(t)), both)
}

// uplinkQueued returns, by uplink, what each has still to send, from a
// migration state.
func uplinkQueued(mig map[string]any) map[string]float64 {
	out := map[string]float64{}
	ups, _ := mig["uplinks"].([]any)
	for _, u := range ups {
		m, _ := u.(map[string]any)
		name, _ := m["name"].(string)
		q, _ := m["queued"].(float64)
		out[name] = q
	}
	return out
}

// TestMigrationDualProtocol: phase A with the MQTT uplink speaking both
// formats (protocol: dual): each reading goes out in v1 on Kafka and on
// MQTT, and as a plain legacy object on the legacy telemetry topic. A
// legacy command is answered in the legacy format, within its timeout: a
// fresh read of a sensor slower than the timeout is answered TIMEOUT
// after 1 s; and a command sent in both formats with one id runs once.
func TestMigrationDualProtocol(t *testing.T) {
	const id = "e2e-dual"
	r := &migrationRig{id: id, broker: mqtttest.Start(t, mqtttest.Options{}),
		config: filepath.Join(t.TempDir(), "agent.yaml"), state: filepath.Join(t.TempDir(), "state")}
	r.startKafka(t)
	r.topics, _ = contracts.DeviceTopics(id)
	legacyTel, legacyReq, replies := "devices/"+id+"/telemetry", "devices/"+id+"/rpc/request", "replies/"+id
	r.mqtt = dialRPC(t, r.broker.Addr(), id+"-backend", r.topics.Telemetry, legacyTel, replies)
	r.kafka = readKafka(t, r.brokers, contracts.TopicDeviceTelemetry)
	text := fmt.Sprintf(`
deviceId: %s
stateDir: %s
log: {level: info, format: json}
uplink:
  phase: A
  mqtt:
    broker: %s
    protocol: dual
    connectTimeout: 2s
  kafka:
    brokers: ["%s"]
    connectTimeout: 2s
sensors:
  - {name: sim0, type: sim, interval: 100ms}
  - {name: slow, type: sim, interval: 10s, readDelay: 3s}
`, id, r.state, r.broker.URL(), strings.Join(r.brokers, `", "`))
	if err := os.WriteFile(r.config, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	r.agent = startAgent(t, r.config)

	// The same readings in three forms.
	legacySeqs := func() []int {
		var out []int
		for _, m := range r.mqtt.matching(func(m *paho.Publish) bool { return m.Topic == legacyTel }) {
			var obj map[string]float64
			if err := stdjson.Unmarshal(m.Payload, &obj); err != nil {
				t.Fatalf("legacy telemetry %s: %v", m.Payload, err)
			}
			if seq, ok := obj["seq"]; ok && len(obj) == 3 { // sim: temperature, humidity, seq
				out = append(out, int(seq))
			}
		}
		return out
	}
	waitMore(t, "legacy telemetry", legacySeqs, 20, 30*time.Second)
	waitMore(t, "Kafka", func() []int { return r.kafkaSeqs(t) }, 20, 30*time.Second)
	v1 := map[int]bool{}
	for _, s := range seqsOf(t, payloadsOn(r.mqtt, r.topics.Telemetry)) {
		v1[s%seqSpan] = true
	}
	kafka := map[int]bool{}
	for _, s := range r.kafkaSeqs(t) {
		kafka[s%seqSpan] = true
	}
	for _, s := range legacySeqs()[:10] {
		if !v1[s] || !kafka[s] {
			t.Errorf("reading %d in the legacy format: in v1 on MQTT %v, on Kafka %v; want both", s, v1[s], kafka[s])
		}
	}

	// A legacy command, answered in the legacy format within its timeout.
	call := func(body string, cid string) map[string]any {
		t.Helper()
		props := &paho.PublishProperties{ResponseTopic: replies, CorrelationData: []byte(cid)}
		if err := r.mqtt.publish(context.Background(), legacyReq, []byte(body), props); err != nil {
			t.Fatal(err)
		}
		msgs, ok := r.mqtt.waitN(1, rpcWait, func(m *paho.Publish) bool {
			return m.Topic == replies && m.Properties != nil && string(m.Properties.CorrelationData) == cid
		})
		if !ok {
			t.Fatalf("no answer to the legacy command %s within %v", body, rpcWait)
		}
		var answer map[string]any
		if err := stdjson.Unmarshal(msgs[0].Payload, &answer); err != nil {
			t.Fatal(err)
		}
		return answer
	}
	// The slow sensor takes 3 s, the command allows 1 s (the dispatcher's
	// own limit, rpc.timeout, is 10 s): only the legacy timeout gives
	// TIMEOUT.
	a := call(`{"method":"getSensors","deviceId":"`+id+`","timeout":1000,"params":{"sensors":["slow"],"fresh":true}}`, "slow-1")
	errObj, _ := a["error"].(map[string]any)
	if a["success"] != false || errObj["code"] != contracts.CodeTimeout || a["method"] != "getSensors" || a["deviceId"] != id {
		t.Errorf("legacy answer %v; want success false, error TIMEOUT, the method and device", a)
	}

	// One id in both formats: run once, answered in each.
	cid, body := rpcCommand(id, "getSensors", `{"sensors":["sim0"],"fresh":true}`, nil)
	if err := r.mqtt.publish(context.Background(), r.topics.Commands, body, &paho.PublishProperties{ResponseTopic: replies, CorrelationData: []byte("v1-" + cid)}); err != nil {
		t.Fatal(err)
	}
	a = call(`{"method":"getSensors","deviceId":"`+id+`","params":{"sensors":["sim0"],"fresh":true}}`, cid)
	if a["success"] != true {
		t.Errorf("legacy answer %v; want success", a)
	}
	v1Answer, ok := r.mqtt.waitN(1, rpcWait, func(m *paho.Publish) bool {
		return m.Properties != nil && string(m.Properties.CorrelationData) == "v1-"+cid
	})
	if !ok {
		t.Fatal("no v1 answer to the v1 form of the command")
	}
	m, err := contracts.Decode(v1Answer[0].Payload)
	if err != nil || m.(*contracts.DeviceResponseRPC).CorrelationID != cid {
		t.Fatalf("v1 answer %s (%v); want a v1 response to %s", v1Answer[0].Payload, err, cid)
	}
	// Run twice, the fresh reads would differ: another seq, another instant.
	if v1Result := result(t, m.(*contracts.DeviceResponseRPC)); !reflect.DeepEqual(v1Result, a["result"]) {
		t.Errorf("the two forms' results differ, so the command ran twice:\nv1     %v\nlegacy %v", v1Result, a["result"])
	}
	if code := r.agent.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit code after SIGTERM = %d; want 0", code)
	}
}

// payloadsOn returns the payloads rc received on topic.
func payloadsOn(rc *rpcClient, topic string) [][]byte {
	var out [][]byte
	for _, m := range rc.matching(func(m *paho.Publish) bool { return m.Topic == topic }) {
		out = append(out, m.Payload)
	}
	return out
}
