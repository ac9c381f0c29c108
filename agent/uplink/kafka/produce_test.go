package kafka_test

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
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
)

// produced are the topics testRecords go to, and the status events.
var produced = []string{contracts.TopicDeviceTelemetry, contracts.TopicDeviceResponses, contracts.TopicDeviceEvents}

// TestProducesEveryRecordInKeyOrder appends 10,000 records over 4 keys
// while the uplink runs, and injects trouble mid-stream: produce errors
// (retriable ones franz-go retries, a timeout after the broker wrote the
// batch, and errors franz-go gives up on, which the uplink retries), or a
// broker going away and coming back. Every record must reach Kafka, each
// key's in order, and the outbox end empty.
func TestProducesEveryRecordInKeyOrder(t *testing.T) {
	for _, tc := range []struct {
		name   string
		inject func(t *testing.T, c *kfake.Cluster) (undo func())
	}{
		{"steady", nil},
		{"produce-errors", injectProduceErrors},
		{"broker-restart", restartBroker},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const n, batches = 10000, 100
			c := newCluster(t)
			box := openStore(t, t.TempDir())
			r := startUplink(t, c, box, kafka.Config{Logger: testLogger(t)}, nil)
			recs := testRecords(n, "gw-1", "gw-2", "gw-3", "gw-4")
			var undo func()
			for i := range batches {
				if tc.inject != nil && i == batches*3/10 {
					undo = tc.inject(t, c)
				}
				if undo != nil && i == batches*7/10 {
					undo()
					undo = nil
				}
				if err := box.Append(context.Background(), recs[i*n/batches:(i+1)*n/batches]...); err != nil {
					t.Fatal(err)
				}
			}
			if undo != nil {
				undo()
			}
			waitFor(t, 60*time.Second, "the outbox to drain", func() bool {
				st := box.Stats()
				return st.Telemetry.Depth == 0 && st.Control.Depth == 0
			})
			got := newReader(t, c, produced).read(t, n+1, 300*time.Millisecond, 30*time.Second)
			dups := checkStream(t, got, n)
			t.Logf("%d records, %d duplicates", len(got), dups)
			if tc.name == "steady" && dups != 0 {
				t.Errorf("%d duplicates without any fault; want 0", dups)
			}
			if st := r.up.State(); !st.Connected || tc.name == "broker-restart" && st.Reconnects == 0 {
				t.Errorf("State() = %+v; want connected (after a reconnect when a broker restarted)", st)
			}
			if q := box.Stats().Quarantined; q != 0 {
				t.Errorf("%d records quarantined; want 0", q)
			}
		})
	}
}

// injectProduceErrors fails produce requests: not-leader and
// not-enough-replicas (franz-go retries them, after a metadata refresh),
// request-timed-out after the write (franz-go retries; the idempotent
// producer keeps Kafka from writing the batch twice), and
// invalid-timestamp, which franz-go does not retry: the uplink releases
// the records and produces them again after a backoff. (A batch written,
// answered timed-out, and refused on its retry is produced twice: that
// is at-least-once.)
func injectProduceErrors(t *testing.T, c *kfake.Cluster) func() {
	produce := []kmsg.Key{kmsg.Produce}
	h := c.Fault(
		kfake.Fault{Keys: produce, Err: kerr.NotLeaderForPartition, Count: 2},
		kfake.Fault{Keys: produce, Err: kerr.NotEnoughReplicas, Count: 2},
		kfake.Fault{Keys: produce, Err: kerr.RequestTimedOut, Count: 2},
		kfake.Fault{Keys: produce, Err: kerr.InvalidTimestamp, Count: 3},
	)
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := h.Wait(ctx, 9); err != nil {
			t.Errorf("only %d of 9 produce faults happened: %v", h.Hits(), err)
		}
	}
}

// restartBroker takes the broker leading gw-1's telemetry partition away,
// its connections cut and its listener closed, its partitions led by the
// others; undo brings it back on the same port.
func restartBroker(t *testing.T, c *kfake.Cluster) func() {
	node := c.LeaderFor(contracts.TopicDeviceTelemetry, kafka.PartitionFor([]byte("gw-1"), partitions))
	addr := c.ListenAddrs()[node] // the nodes are 0, 1, 2, listed in order until one is removed
	_, portStr, _ := strings.Cut(addr, ":")
	port, _ := strconv.Atoi(portStr)
	var down atomic.Bool
	down.Store(true)
	c.Control(func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if down.Load() && c.CurrentNode() == node {
			return nil, errors.New("broker down"), true // closes the connection
		}
		return nil, nil, false
	})
	if err := c.RemoveNode(node); err != nil {
		t.Fatal(err)
	}
	return func() {
		if _, _, err := c.AddNode(node, port); err != nil {
			t.Fatalf("bring broker %d back on port %d: %v", node, port, err)
		}
		down.Store(false)
	}
}

// TestQuarantinesWhatKafkaCannotTake: a record without an eventType, one
// of an unknown eventType, and one too large for a batch are quarantined
// without being sent; the records around them go, and a record without
// headers whose payload is an envelope goes with the envelope's headers.
func TestQuarantinesWhatKafkaCannotTake(t *testing.T) {
	c := newCluster(t)
	box := openStore(t, t.TempDir())
	good := testRecords(10, "gw-1")
	status := contracts.NewDeviceStatusChanged(contracts.DeviceOrigin(device),
		contracts.DeviceStatusChangedPayload{DeviceID: device, Status: contracts.DeviceOnline})
	envelope, err := contracts.Encode(status)
	if err != nil {
		t.Fatal(err)
	}
	bad := []outbox.Record{
		{Lane: outbox.LaneControl, Topic: "x", Key: []byte(device), Payload: []byte("not json")},
		{Lane: outbox.LaneControl, Topic: "x", Key: []byte(device), Payload: []byte("{}"),
			Headers: []outbox.Header{{Key: contracts.HeaderEventType, Value: []byte("device.unknown")}}},
		{Lane: outbox.LaneControl, Topic: "x", Key: []byte(device), Payload: bytes.Repeat([]byte("x"), 1_000_100),
			Headers: []outbox.Header{{Key: contracts.HeaderEventType, Value: []byte(contracts.TypeDeviceTelemetry)}}},
		{Lane: outbox.LaneControl, Topic: "iot/v1/devices/gw-test/status", Payload: envelope, // no key: the device's
			Headers: []outbox.Header{{Key: "mqtt.content-type", Value: []byte("application/json")}}},
	}
	recs := append(append(good[:5:5], bad...), good[5:]...)
	if err := box.Append(context.Background(), recs...); err != nil {
		t.Fatal(err)
	}
	startUplink(t, c, box, kafka.Config{}, nil)
	waitFor(t, 30*time.Second, "the outbox to drain, 3 records quarantined", func() bool {
		st := box.Stats()
		return st.Telemetry.Depth == 0 && st.Control.Depth == 0 && st.Quarantined == 3
	})
	got := newReader(t, c, produced).read(t, 12, 300*time.Millisecond, 30*time.Second)
	var statuses []*kgo.Record
	var rest []*kgo.Record
	for _, r := range got {
		if r.Topic == contracts.TopicDeviceEvents {
			statuses = append(statuses, r)
		} else {
			rest = append(rest, r)
		}
	}
	checkStream(t, rest, 10)
	found := false
	for _, r := range statuses {
		if header(r, contracts.HeaderCorrelationID) == status.CorrelationID {
			found = true
			if header(r, contracts.HeaderEventType) != string(contracts.TypeDeviceStatusChanged) ||
				header(r, contracts.HeaderVersion) != contracts.Version || string(r.Key) != device || header(r, "mqtt.content-type") != "" {
				t.Errorf("record without headers produced with key %q, headers %v; want the device's key and the envelope's headers", r.Key, r.Headers)
			}
		}
	}
	if !found {
		t.Errorf("the record without headers did not reach %s; got %d records there", contracts.TopicDeviceEvents, len(statuses))
	}
}

// TestBrokerRefusalQuarantinesOnlyTheRecord: the brokers refuse every
// produce request holding one record (MESSAGE_TOO_LARGE), which fails the
// other records of its partitions with it. The uplink produces the
// refused records one by one: only that record is quarantined, the others
// arrive, in order, though later rounds were read ahead meanwhile.
func TestBrokerRefusalQuarantinesOnlyTheRecord(t *testing.T) {
	c := newCluster(t)
	poison := []byte("POISON")
	c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: contracts.TopicDeviceTelemetry,
		Err: kerr.MessageTooLarge, Count: -1, When: func(req kmsg.Request) bool { return produceHolds(req, poison) }})
	box := openStore(t, t.TempDir())
	recs := testRecords(300, "gw-1", "gw-2", "gw-3")
	for i := range recs {
		if recs[i].Lane == outbox.LaneTelemetry && i > 150 {
			recs[i].Payload = append(recs[i].Payload, poison...)
			t.Logf("poisoned %s", recs[i].Payload[:20])
			break
		}
	}
	if err := box.Append(context.Background(), recs...); err != nil {
		t.Fatal(err)
	}
	startUplink(t, c, box, kafka.Config{Window: 64}, nil) // rounds and read-ahead
	waitFor(t, 60*time.Second, "the outbox to drain, 1 record quarantined", func() bool {
		st := box.Stats()
		return st.Telemetry.Depth == 0 && st.Control.Depth == 0 && st.Quarantined == 1
	})
	got := newReader(t, c, produced).read(t, 300, 300*time.Millisecond, 30*time.Second)
	checkStream(t, got, 299)
}

// produceHolds reports whether a produce request carries payload bytes
// holding marker.
func produceHolds(req kmsg.Request, marker []byte) bool {
	pr, ok := req.(*kmsg.ProduceRequest)
	if !ok {
		return false
	}
	dec := kgo.DefaultDecompressor()
	for _, t := range pr.Topics {
		for _, p := range t.Partitions {
			var b kmsg.RecordBatch
			if err := b.ReadFrom(p.Records); err != nil {
				continue
			}
			raw := b.Records
			if codec := b.Attributes & 0x07; codec != 0 {
				var err error
				if raw, err = dec.Decompress(raw, kgo.CompressionCodecType(codec)); err != nil {
					continue
				}
			}
			if bytes.Contains(raw, marker) {
				return true
			}
		}
	}
	return false
}

// TestStatusOnlineThenOffline: the uplink queues an online status when it
// starts and an offline one when it stops, both through the outbox.
func TestStatusOnlineThenOffline(t *testing.T) {
	c := newCluster(t)
	box := openStore(t, t.TempDir())
	r := startUplink(t, c, box, kafka.Config{}, nil)
	rd := newReader(t, c, []string{contracts.TopicDeviceEvents})
	first := rd.read(t, 1, 0, 30*time.Second)
	r.stop()
	second := rd.read(t, 1, 200*time.Millisecond, 30*time.Second)
	var got []contracts.DeviceStatus
	for _, rec := range append(first, second...) {
		m, err := contracts.Decode(rec.Value)
		if err != nil {
			t.Fatalf("Decode(%q) = %v", rec.Value, err)
		}
		s, ok := m.(*contracts.DeviceStatusChanged)
		if !ok || s.Payload.DeviceID != device || string(rec.Key) != device {
			t.Fatalf("status record %q keyed %q; want a device.status.changed of %s", rec.Value, rec.Key, device)
		}
		if header(rec, contracts.HeaderCorrelationID) != s.CorrelationID || header(rec, contracts.HeaderEventType) != string(s.EventType) {
			t.Errorf("status headers %v do not repeat its envelope", rec.Headers)
		}
		got = append(got, s.Payload.Status)
	}
	if len(got) != 2 || got[0] != contracts.DeviceOnline || got[1] != contracts.DeviceOffline {
		t.Errorf("statuses = %v; want [online offline]", got)
	}
	if st := box.Stats(); st.Control.Depth != 0 {
		t.Errorf("control depth after a clean stop = %d; want 0", st.Control.Depth)
	}
}

// TestStopIsBoundedAndLosesNothing: with the brokers not answering
// produce requests, stopping takes about ConnectTimeout, and every record
// is left in the outbox; the next run produces them all.
func TestStopIsBoundedAndLosesNothing(t *testing.T) {
	c := newCluster(t)
	var hold atomic.Bool
	hold.Store(true)
	held := make(chan struct{}, 1)
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if !hold.Load() {
			return nil, nil, false
		}
		select {
		case held <- struct{}{}:
		default:
		}
		return nil, errors.New("no answer"), true
	})
	dir := t.TempDir()
	box := openStore(t, dir)
	const n = 1000
	if err := box.Append(context.Background(), testRecords(n, "gw-1", "gw-2")...); err != nil {
		t.Fatal(err)
	}
	const timeout = 500 * time.Millisecond
	r := startUplink(t, c, box, kafka.Config{ConnectTimeout: timeout}, nil)
	<-held
	start := time.Now()
	r.stop()
	if d := time.Since(start); d > 4*timeout+2*time.Second {
		t.Errorf("stop took %v; want about ConnectTimeout (%v)", d, timeout)
	}
	st := box.Stats()
	if st.InFlight != 0 || st.Telemetry.Depth+st.Control.Depth != n+2 {
		t.Errorf("after the stop: %d in flight, %d+%d records; want 0 in flight, %d records (and the two statuses)",
			st.InFlight, st.Telemetry.Depth, st.Control.Depth, n)
	}
	hold.Store(false)
	startUplink(t, c, box, kafka.Config{}, nil)
	waitFor(t, 30*time.Second, "the outbox to drain", func() bool {
		st := box.Stats()
		return st.Telemetry.Depth == 0 && st.Control.Depth == 0
	})
	got := newReader(t, c, produced).read(t, n+3, 300*time.Millisecond, 30*time.Second)
	checkStream(t, got, n)
}
