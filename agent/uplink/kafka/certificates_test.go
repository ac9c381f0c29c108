package kafka_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/agent/uplink/kafka"
	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/internal/syncbuf"
)

// received is a handler that keeps what the uplink hands it, and
// acknowledges it.
type received struct {
	mu   sync.Mutex
	cmds []kafka.Command
}

func (r *received) handle(_ context.Context, c kafka.Command) {
	r.mu.Lock()
	r.cmds = append(r.cmds, c)
	r.mu.Unlock()
	c.Ack()
}

// all returns what was handed so far.
func (r *received) all() []kafka.Command {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.cmds)
}

// certEvent makes a record of the certificate rotation of type et for
// deviceID on topic, as the backend (certificate.issued) or an agent
// (the others) produces it: keyed by the device id, with the contracts'
// headers unless bare. It returns the record and its correlationId.
func certEvent(t testing.TB, et contracts.EventType, deviceID, topic string, bare bool) (*kgo.Record, string) {
	t.Helper()
	device := contracts.DeviceOrigin(deviceID)
	csr := contracts.NewCertificateCSRCreated(device, contracts.CertificateCSRCreatedPayload{DeviceID: deviceID, CSRPEM: "csr", Reason: "test"})
	notAfter := time.Now().Add(time.Hour)
	var m contracts.Message
	switch et {
	case contracts.TypeCertificateCSRCreated:
		m = csr
	case contracts.TypeCertificateIssued:
		m = contracts.NewCertificateIssued(contracts.Origin{Source: contracts.Source{Type: contracts.SourceBackend, ID: "ca"}}, &csr.Envelope,
			contracts.CertificateIssuedPayload{DeviceID: deviceID, CertificatePEM: "pem", SerialNumber: "1f", NotAfter: notAfter})
	case contracts.TypeCertificateInstalled:
		m = contracts.NewCertificateInstalled(device, csr.CorrelationID, contracts.CertificateInstalledPayload{DeviceID: deviceID, SerialNumber: "1f", NotAfter: notAfter})
	case contracts.TypeCertificateRotationFailed:
		m = contracts.NewCertificateRotationFailed(device, csr.CorrelationID, contracts.CertificateRotationFailedPayload{DeviceID: deviceID, Reason: "test"})
	default:
		t.Fatalf("certEvent: %s is not a certificate event", et)
	}
	b, err := contracts.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	h := m.Header()
	r := &kgo.Record{Topic: topic, Key: []byte(deviceID), Value: b}
	if !bare {
		r.Headers = []kgo.RecordHeader{
			{Key: contracts.HeaderEventType, Value: []byte(h.EventType)},
			{Key: contracts.HeaderCorrelationID, Value: []byte(h.CorrelationID)},
			{Key: contracts.HeaderVersion, Value: []byte(h.Version)},
		}
	}
	return r, h.CorrelationID
}

// produce sends recs, keyed records placed by murmur2 as the backend's
// producer places them, and checks each landed on partition want.
func produce(t testing.TB, c *kfake.Cluster, want int32, recs ...*kgo.Record) {
	t.Helper()
	for _, res := range newProducer(t, c).ProduceSync(context.Background(), recs...) {
		if res.Err != nil {
			t.Fatalf("produce to %s: %v", res.Record.Topic, res.Err)
		}
		if res.Record.Partition != want {
			t.Fatalf("record keyed %q went to partition %d of %s; want %d", res.Record.Key, res.Record.Partition, res.Record.Topic, want)
		}
	}
}

// cursorOf returns the stored cursor of partition p of topic, or -1.
func cursorOf(t testing.TB, box *outbox.Store, topic string, p int32) int64 {
	t.Helper()
	v, ok, err := box.Cursor("kafka/" + topic + "/" + strconv.Itoa(int(p)))
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return -1
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		t.Fatalf("cursor value %q: %v", v, err)
	}
	return n
}

// correlationIDs returns the correlationId headers of cmds on topic.
func correlationIDs(cmds []kafka.Command, topic string) []string {
	var ids []string
	for _, c := range cmds {
		if c.Topic == topic {
			v, _ := c.Header(contracts.HeaderCorrelationID)
			if v == nil {
				m, err := contracts.Decode(c.Payload)
				if err == nil {
					v = []byte(m.Header().CorrelationID)
				}
			}
			ids = append(ids, string(v))
		}
	}
	slices.Sort(ids)
	return ids
}

// TestCertificateIssuedOnTheCertificatesTopic: of the device's partition
// of certificate.events, the uplink hands over the device's
// certificate.issued, by header or, without headers, by body, with the
// topic it came on; it skips the device's own events and other devices'
// (not counted as other devices' commands), and its cursor passes them
// all. Commands still come from device.commands.
func TestCertificateIssuedOnTheCertificatesTopic(t *testing.T) {
	c := newCluster(t)
	box := openStore(t, t.TempDir())
	var rcv received
	var otherDevice atomic.Int64
	startUplink(t, c, box, kafka.Config{Logger: testLogger(t), OnOtherDevice: func() { otherDevice.Add(1) }}, rcv.handle)
	own := kafka.PartitionFor([]byte(device), partitions)
	waitFor(t, 30*time.Second, "both cursors stored at the partitions' end", func() bool {
		return cursorOf(t, box, contracts.TopicDeviceCommands, own) == 0 && cursorOf(t, box, contracts.TopicCertificateEvents, own) == 0
	})

	same, _ := others(1, partitions)
	var recs []*kgo.Record
	var want []string
	add := func(et contracts.EventType, id string, bare, delivered bool) {
		r, corr := certEvent(t, et, id, contracts.TopicCertificateEvents, bare)
		recs = append(recs, r)
		if delivered {
			want = append(want, corr)
		}
	}
	add(contracts.TypeCertificateCSRCreated, device, false, false) // the device's own events
	add(contracts.TypeCertificateInstalled, device, false, false)
	add(contracts.TypeCertificateRotationFailed, device, false, false)
	add(contracts.TypeCertificateCSRCreated, device, true, false)
	add(contracts.TypeCertificateIssued, same[0], false, false) // another device's, on the same partition
	add(contracts.TypeCertificateIssued, same[0], true, false)
	add(contracts.TypeCertificateCSRCreated, same[0], false, false)
	add(contracts.TypeCertificateIssued, device, false, true) // the device's, by header
	add(contracts.TypeCertificateIssued, device, true, true)  // and by body
	produce(t, c, own, recs...)
	cmd, corr := command(t, device)
	other, _ := command(t, same[0])
	produce(t, c, own, cmd, other)

	waitFor(t, 30*time.Second, "both cursors at the partitions' end", func() bool {
		return cursorOf(t, box, contracts.TopicCertificateEvents, own) == int64(len(recs)) && cursorOf(t, box, contracts.TopicDeviceCommands, own) == 2
	})
	got := rcv.all()
	slices.Sort(want)
	if ids := correlationIDs(got, contracts.TopicCertificateEvents); !slices.Equal(ids, want) {
		t.Errorf("handed from %s: %v; want the device's two certificate.issued %v", contracts.TopicCertificateEvents, ids, want)
	}
	if ids := correlationIDs(got, contracts.TopicDeviceCommands); !slices.Equal(ids, []string{corr}) {
		t.Errorf("handed from %s: %v; want the device's command %s", contracts.TopicDeviceCommands, ids, corr)
	}
	for _, c := range got {
		if c.Partition != own {
			t.Errorf("record of %s handed from partition %d; want %d", c.Topic, c.Partition, own)
		}
	}
	if n := otherDevice.Load(); n != 1 {
		t.Errorf("OnOtherDevice told of %d records; want 1, the other device's command", n)
	}
}

// TestCertificatesAllPartitions: with CommandsAll, the uplink reads every
// partition of certificate.events as of device.commands, a cursor each,
// and hands over the device's certificate.issued sent without a key to
// any of them.
func TestCertificatesAllPartitions(t *testing.T) {
	c := newCluster(t)
	box := openStore(t, t.TempDir())
	var rcv received
	startUplink(t, c, box, kafka.Config{CommandsPartitions: kafka.CommandsAll}, rcv.handle)
	waitFor(t, 30*time.Second, "a cursor stored per partition of both topics", func() bool {
		for p := range int32(partitions) {
			if cursorOf(t, box, contracts.TopicDeviceCommands, p) != 0 || cursorOf(t, box, contracts.TopicCertificateEvents, p) != 0 {
				return false
			}
		}
		return true
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var want []string
	for p := range int32(partitions) {
		ours, corr := certEvent(t, contracts.TypeCertificateIssued, device, contracts.TopicCertificateEvents, false)
		theirs, _ := certEvent(t, contracts.TypeCertificateIssued, "gw-b", contracts.TopicCertificateEvents, false)
		ours.Key, ours.Partition, theirs.Key, theirs.Partition = nil, p, nil, p
		if err := cl.ProduceSync(context.Background(), ours, theirs).FirstErr(); err != nil {
			t.Fatal(err)
		}
		want = append(want, corr)
	}
	waitFor(t, 30*time.Second, "every certificates cursor at its partition's end", func() bool {
		for p := range int32(partitions) {
			if cursorOf(t, box, contracts.TopicCertificateEvents, p) != 2 {
				return false
			}
		}
		return true
	})
	got := rcv.all()
	slices.Sort(want)
	if ids := correlationIDs(got, contracts.TopicCertificateEvents); !slices.Equal(ids, want) || len(got) != partitions {
		t.Errorf("handed %d records, from %s %v; want the device's %d certificate.issued %v", len(got), contracts.TopicCertificateEvents, ids, partitions, want)
	}
	var parts []int32
	for _, c := range got {
		parts = append(parts, c.Partition)
	}
	slices.Sort(parts)
	if !slices.Equal(parts, []int32{0, 1, 2, 3, 4, 5}) {
		t.Errorf("handed from partitions %v; want one from each of 0..5", parts)
	}
}

// TestRenamedCertificatesTopic: with topics.certificates renamed, the
// uplink reads certificate.issued from that topic, named so in
// Command.Topic and in its cursor, and not from the contracts' name.
func TestRenamedCertificatesTopic(t *testing.T) {
	const certs = "acme.crt"
	c := newCluster(t, kfake.SeedTopics(partitions, certs))
	box := openStore(t, t.TempDir())
	var rcv received
	startUplink(t, c, box, kafka.Config{Topics: kafka.Topics{Certificates: certs}}, rcv.handle)
	own := kafka.PartitionFor([]byte(device), partitions)
	waitFor(t, 30*time.Second, "the cursor of "+certs, func() bool { return cursorOf(t, box, certs, own) == 0 })

	ours, corr := certEvent(t, contracts.TypeCertificateIssued, device, certs, false)
	stray, _ := certEvent(t, contracts.TypeCertificateIssued, device, contracts.TopicCertificateEvents, false)
	produce(t, c, own, stray, ours)
	waitFor(t, 30*time.Second, "the certificate.issued handed over", func() bool { return len(rcv.all()) == 1 })
	waitFor(t, 10*time.Second, "the cursor of "+certs+" at 1", func() bool { return cursorOf(t, box, certs, own) == 1 })
	if got := rcv.all(); got[0].Topic != certs || !slices.Equal(correlationIDs(got, certs), []string{corr}) {
		t.Errorf("handed %s from %q; want %s from %q", correlationIDs(got, got[0].Topic), got[0].Topic, corr, certs)
	}
	// The renamed topic stands for the contracts' certificate.events.
	if got := rcv.all()[0].Catalogue; got != contracts.TopicCertificateEvents {
		t.Errorf("handed with Catalogue %q; want %q", got, contracts.TopicCertificateEvents)
	}
	if n := cursorOf(t, box, contracts.TopicCertificateEvents, own); n != -1 {
		t.Errorf("a cursor of %s, at %d; want none: it is not read", contracts.TopicCertificateEvents, n)
	}
}

// TestCertificateIssuedWhileStopped: a rotation under way across a
// restart: a certificate.issued sent while the uplink is stopped is
// handed over when it starts again, from its stored cursor.
func TestCertificateIssuedWhileStopped(t *testing.T) {
	c := newCluster(t)
	dir := t.TempDir()
	box := openStore(t, dir)
	var rcv received
	r := startUplink(t, c, box, kafka.Config{}, rcv.handle)
	own := kafka.PartitionFor([]byte(device), partitions)
	waitFor(t, 30*time.Second, "the certificates cursor stored", func() bool { return cursorOf(t, box, contracts.TopicCertificateEvents, own) == 0 })
	r.stop()
	if err := box.Close(); err != nil {
		t.Fatal(err)
	}

	csr, _ := certEvent(t, contracts.TypeCertificateCSRCreated, device, contracts.TopicCertificateEvents, false)
	issued, corr := certEvent(t, contracts.TypeCertificateIssued, device, contracts.TopicCertificateEvents, false)
	produce(t, c, own, csr, issued)
	box = openStore(t, dir)
	startUplink(t, c, box, kafka.Config{}, rcv.handle)
	waitFor(t, 30*time.Second, "the certificate.issued sent meanwhile handed over", func() bool { return len(rcv.all()) == 1 })
	if got := correlationIDs(rcv.all(), contracts.TopicCertificateEvents); !slices.Equal(got, []string{corr}) {
		t.Errorf("handed %v; want [%s]", got, corr)
	}
}

// TestCertificatesTopicCreatedLater: without a certificates topic, the
// uplink reads its commands all the same; once the topic is created, it
// reads it from its start, and hands over the certificate.issued sent
// there.
func TestCertificatesTopicCreatedLater(t *testing.T) {
	t.Cleanup(kafka.SetMetadataEvery(100 * time.Millisecond)) // after the uplink stopped
	var present []string
	for _, tp := range topics {
		if tp != contracts.TopicCertificateEvents {
			present = append(present, tp)
		}
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, present...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	box := openStore(t, t.TempDir())
	var rcv received
	startUplink(t, c, box, kafka.Config{Logger: testLogger(t)}, rcv.handle)
	own := kafka.PartitionFor([]byte(device), partitions)
	waitFor(t, 30*time.Second, "the commands cursor stored", func() bool { return cursorOf(t, box, contracts.TopicDeviceCommands, own) == 0 })
	cmd, _ := command(t, device)
	produce(t, c, own, cmd)
	waitFor(t, 30*time.Second, "the command handed over", func() bool { return len(rcv.all()) == 1 })

	req := kmsg.NewPtrCreateTopicsRequest()
	tp := kmsg.NewCreateTopicsRequestTopic()
	tp.Topic, tp.NumPartitions, tp.ReplicationFactor = contracts.TopicCertificateEvents, partitions, 1
	req.Topics, req.TimeoutMillis = append(req.Topics, tp), 5000
	resp, err := req.RequestWith(context.Background(), newProducer(t, c))
	if err != nil {
		t.Fatal(err)
	}
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		t.Fatalf("create %s: %v", contracts.TopicCertificateEvents, err)
	}
	issued, corr := certEvent(t, contracts.TypeCertificateIssued, device, contracts.TopicCertificateEvents, false)
	produce(t, c, own, issued)
	waitFor(t, 30*time.Second, "the certificate.issued handed over", func() bool { return len(rcv.all()) == 2 })
	if got := correlationIDs(rcv.all(), contracts.TopicCertificateEvents); !slices.Equal(got, []string{corr}) {
		t.Errorf("handed from %s: %v; want [%s]", contracts.TopicCertificateEvents, got, corr)
	}
	waitFor(t, 10*time.Second, "the certificates cursor at 1", func() bool { return cursorOf(t, box, contracts.TopicCertificateEvents, own) == 1 })
}

// TestKeyHint: with CommandsOwn, commands for the device keyed otherwise
// than by its id (none, another device's) are answered, and the log
// hints, once every 30 s and not once a command, that such commands on
// other partitions never reach the gateway. Commands keyed by the
// device id bring no hint.
func TestKeyHint(t *testing.T) {
	const hint = "came keyed otherwise than by its id"
	const every = 30 * time.Second // the uplink's limit
	c := newCluster(t)
	box := openStore(t, t.TempDir())
	a := newAnswerer(t, box)
	var logs syncbuf.Buffer
	startUplink(t, c, box, kafka.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))}, a.handle)
	own := kafka.PartitionFor([]byte(device), partitions)
	waitFor(t, 30*time.Second, "the commands cursor stored", func() bool { return cursorAt(t, box, partitions) == 0 })

	sendCommands(t, newProducer(t, c), partitions, device, device)
	waitFor(t, 30*time.Second, "the commands keyed by device id answered", func() bool { return a.ran() == 2 })
	if strings.Contains(logs.String(), hint) {
		t.Fatalf("commands keyed by the device id brought the hint:\n%s", logs.String())
	}
	start := time.Now()
	const n = 20
	for i := range n {
		var key []byte
		if i%2 == 1 {
			key = []byte("gw-b")
		}
		sendTo(t, c, device, key, own)
	}
	waitFor(t, 30*time.Second, fmt.Sprintf("%d commands keyed otherwise answered", n), func() bool { return a.ran() == 2+n })
	elapsed := time.Since(start)
	lines := strings.Count(logs.String(), hint)
	if most := 1 + int(elapsed/every); lines < 1 || lines > most {
		t.Errorf("%d commands keyed otherwise in %v: %d hints; want 1 to %d\n%s", n, elapsed, lines, most, logs.String())
	}
	if !strings.Contains(logs.String(), "commandsPartitions: all") {
		t.Errorf("the hint does not name commandsPartitions: all:\n%s", logs.String())
	}
}
