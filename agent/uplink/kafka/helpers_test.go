package kafka_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/agent/outbox/outboxtest"
	"github.com/iot-hub/agent/agent/uplink/kafka"
	"github.com/iot-hub/agent/contracts"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	device     = "gw-test"
	partitions = 6
)

// topics are the contracts' Kafka topics, which the test clusters hold.
var topics = []string{
	contracts.TopicDeviceCommands, contracts.TopicDeviceResponses, contracts.TopicDeviceEvents,
	contracts.TopicDeviceTelemetry, contracts.TopicCertificateEvents, contracts.TopicUserEvents,
	contracts.TopicIntegrationEvents, contracts.TopicDLQ,
}

// newCluster starts an in-process Kafka cluster of 3 brokers holding the
// contracts' topics, with partitions partitions each.
func newCluster(t testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(3), kfake.SeedTopics(partitions, topics...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// openStore opens the outbox in dir, whose file outlives the store for
// restarts; the test closes it at its end. Telemetry drains in strict
// order (LiveShare off), so that order is checked end to end.
func openStore(t testing.TB, dir string) *outbox.Store {
	t.Helper()
	return outboxtest.OpenAt(t, filepath.Join(dir, "outbox.db"), outbox.Config{Settings: outbox.Settings{MaxBytes: 256 << 20, LiveShare: -1}})
}

// rig is an uplink running on a store.
type rig struct {
	t      testing.TB
	box    *outbox.Store
	up     *kafka.Uplink
	cancel context.CancelFunc
	done   chan error
}

// startUplink runs an uplink to cluster c on box.
func startUplink(t testing.TB, c *kfake.Cluster, box *outbox.Store, cfg kafka.Config, h kafka.Handler) *rig {
	t.Helper()
	cfg.Brokers = c.ListenAddrs()
	if cfg.DeviceID == "" {
		cfg.DeviceID = device
	}
	up, err := kafka.New(cfg, box, h)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &rig{t: t, box: box, up: up, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- up.Run(ctx) }()
	t.Cleanup(r.stop)
	return r
}

// stop ends the uplink and waits for Run to return; it may be called
// twice.
func (r *rig) stop() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			r.t.Errorf("Run = %v; want nil", err)
		}
	case <-time.After(60 * time.Second):
		r.t.Fatal("Run did not return within 60s of its context ending")
	}
}

// waitFor polls cond every few milliseconds until it holds, failing the
// test after timeout.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// reader consumes topics of a cluster from their start.
type reader struct {
	cl *kgo.Client
}

func newReader(t testing.TB, c *kfake.Cluster, topics []string, opts ...kgo.Opt) *reader {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100 * time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &reader{cl: cl}
}

// read returns the records that come until n have and then none for
// quiet, or until timeout passed.
func (r *reader) read(t testing.TB, n int, quiet, timeout time.Duration) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []*kgo.Record
	for ctx.Err() == nil {
		pollCtx := ctx
		if len(out) >= n {
			var cancel context.CancelFunc
			pollCtx, cancel = context.WithTimeout(ctx, quiet)
			defer cancel()
		}
		fs := r.cl.PollFetches(pollCtx)
		if len(out) >= n && pollCtx.Err() != nil {
			break
		}
		fs.EachError(func(topic string, p int32, err error) {
			if pollCtx.Err() == nil {
				t.Logf("reader: %s/%d: %v", topic, p, err)
			}
		})
		out = append(out, fs.Records()...)
	}
	return out
}

// newProducer returns a client that produces to a cluster as the backend
// would: franz-go's default partitioner, murmur2 for keyed records.
func newProducer(t testing.TB, c *kfake.Cluster) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// header returns the value of r's header key.
func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// testRecords makes n outbox records over keys: every fifth a response on
// the control lane, the others telemetry. Each payload names its key,
// lane and number within them ("gw-1/telemetry/000012/..."), and its
// correlationId is "corr-<i>". A third lack the __version header, half
// carry an mqtt.* one.
func testRecords(n int, keys ...string) []outbox.Record {
	out := make([]outbox.Record, n)
	seq := map[string]int{}
	for i := range out {
		key := keys[i%len(keys)]
		lane, et := outbox.LaneTelemetry, contracts.TypeDeviceTelemetry
		if i%5 == 0 {
			lane, et = outbox.LaneControl, contracts.TypeDeviceResponseRPC
		}
		k := key + "/" + lane.String()
		out[i] = outbox.Record{
			Lane: lane, Topic: "ignored/" + string(et), Key: []byte(key),
			Payload: fmt.Appendf(nil, "%s/%06d/%s", k, seq[k], strings.Repeat("x", 150)),
			Headers: []outbox.Header{
				{Key: contracts.HeaderEventType, Value: []byte(et)},
				{Key: contracts.HeaderCorrelationID, Value: fmt.Appendf(nil, "corr-%s/%06d", k, seq[k])},
				{Key: contracts.HeaderVersion, Value: []byte(contracts.Version)},
			},
		}
		if i%3 == 1 { // a third without __version, which the uplink adds
			out[i].Headers = out[i].Headers[:2]
		}
		if i%2 == 0 { // half with a header of the other uplink, which is left out
			out[i].Headers = append(out[i].Headers, outbox.Header{Key: "mqtt.content-type", Value: []byte("application/json")})
		}
		seq[k]++
	}
	return out
}

// checkStream checks recs hold each of testRecords(n, ...) at least once,
// on the topic of its eventType, with its headers but the mqtt.* one, and each
// key's records of a lane in order of first arrival. It returns how many
// were duplicates.
func checkStream(t testing.TB, recs []*kgo.Record, n int) (dups int) {
	t.Helper()
	seen := map[string]bool{}
	last := map[string]int{}
	got := 0
	for _, r := range recs {
		if header(r, contracts.HeaderEventType) == string(contracts.TypeDeviceStatusChanged) {
			continue
		}
		parts := strings.SplitN(string(r.Value), "/", 4)
		if len(parts) != 4 {
			t.Fatalf("unexpected record %q on %s", r.Value, r.Topic)
		}
		k := parts[0] + "/" + parts[1]
		i, err := strconv.Atoi(parts[2])
		if err != nil {
			t.Fatalf("unexpected record %q on %s", r.Value, r.Topic)
		}
		id := k + "/" + parts[2]
		if seen[id] {
			dups++
			continue
		}
		seen[id] = true
		got++
		if prev, ok := last[k]; ok && i < prev {
			t.Errorf("%s: record %d arrived after %d: order broken", k, i, prev)
		}
		last[k] = max(last[k], i)
		if string(r.Key) != parts[0] {
			t.Errorf("record %s has key %q; want %q", id, r.Key, parts[0])
		}
		want := contracts.EventType(header(r, contracts.HeaderEventType)).Topic()
		if r.Topic != want || want == "" {
			t.Errorf("record %s on topic %q; want %q", id, r.Topic, want)
		}
		if header(r, "mqtt.content-type") != "" {
			t.Errorf("record %s carries the mqtt.content-type header", id)
		}
		if header(r, contracts.HeaderCorrelationID) != "corr-"+id || header(r, contracts.HeaderVersion) != contracts.Version || len(r.Headers) != 3 {
			t.Errorf("record %s has headers %v; want eventType, correlationId corr-%s and __version", id, r.Headers, id)
		}
	}
	if got != n {
		t.Errorf("got %d distinct records; want %d", got, n)
	}
	return dups
}

// testLogger logs to the test's log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}
