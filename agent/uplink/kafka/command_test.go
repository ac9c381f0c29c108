package kafka_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
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

// answerer is the tests' command handler. Like the RPC dispatcher, it
// decodes each command, appends its answer to the outbox, then acks it;
// it counts the commands it ran by correlationId. It holds back the Ack
// of the commands in hold until release. It answers as device id, and
// fails the test when given a command for another device, whatever the
// command's key.
type answerer struct {
	t  testing.TB
	id string

	mu   sync.Mutex
	box  *outbox.Store
	runs map[string]int
	hold map[string]bool
	held []kafka.Command
	seen chan struct{}
}

func newAnswerer(t testing.TB, box *outbox.Store) *answerer {
	return &answerer{t: t, id: device, box: box, runs: map[string]int{}, hold: map[string]bool{}, seen: make(chan struct{}, 1)}
}

func (a *answerer) handle(_ context.Context, c kafka.Command) {
	m, err := contracts.Decode(c.Payload)
	if err != nil {
		a.t.Errorf("command at offset %d: Decode = %v", c.Offset, err)
		c.Ack()
		return
	}
	cmd, ok := m.(*contracts.DeviceCommandRPC)
	if !ok || cmd.Payload.DeviceID != a.id {
		a.t.Errorf("handler got %T for %q keyed %q; want the commands of %s only", m, cmd.Payload.DeviceID, c.Key, a.id)
	}
	if v, _ := c.Header(contracts.HeaderCorrelationID); string(v) != cmd.CorrelationID {
		a.t.Errorf("command header correlationId %q; want %q", v, cmd.CorrelationID)
	}
	// Whatever the commands topic's name, it stands for the contracts'.
	if c.Catalogue != contracts.TopicDeviceCommands || c.Reply != contracts.TopicDeviceResponses || c.DeadLetters != contracts.TopicDLQ {
		a.t.Errorf("command from %q with Catalogue %q, Reply %q, DeadLetters %q; want the contracts' commands, responses and dlq",
			c.Topic, c.Catalogue, c.Reply, c.DeadLetters)
	}
	answer := contracts.NewDeviceResponseRPC(contracts.DeviceOrigin(a.id), &cmd.Envelope,
		contracts.DeviceResponseRPCPayload{DeviceID: a.id, Method: string(cmd.Payload.Method), Result: []byte(`{"ok":true}`)})
	b, err := contracts.Encode(answer)
	if err != nil {
		a.t.Fatal(err)
	}
	a.mu.Lock()
	box := a.box
	a.runs[cmd.CorrelationID]++
	hold := a.hold[cmd.CorrelationID]
	if hold {
		a.held = append(a.held, c)
	}
	a.mu.Unlock()
	err = box.Append(context.Background(), outbox.Record{
		Lane: outbox.LaneControl, Topic: contracts.TopicDeviceResponses, Key: []byte(a.id), Payload: b,
		Headers: []outbox.Header{
			{Key: contracts.HeaderEventType, Value: []byte(answer.EventType)},
			{Key: contracts.HeaderCorrelationID, Value: []byte(answer.CorrelationID)},
			{Key: contracts.HeaderVersion, Value: []byte(answer.Version)},
		},
	})
	if err != nil {
		a.t.Errorf("append the answer: %v", err)
		return // not acked: read again on the next start
	}
	if !hold {
		c.Ack()
	}
	select {
	case a.seen <- struct{}{}:
	default:
	}
}

// ran returns how many distinct commands ran.
func (a *answerer) ran() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.runs)
}

// command makes a device.command.rpc record for deviceID, as the backend
// produces it: keyed by the device id, with the contracts' headers.
func command(t testing.TB, deviceID string) (*kgo.Record, string) {
	t.Helper()
	m := contracts.NewDeviceCommandRPC(contracts.Origin{Source: contracts.Source{Type: contracts.SourceBackend, ID: "test"}},
		contracts.DeviceCommandRPCPayload{DeviceID: deviceID, Method: contracts.MethodGetDeviceState, RequestedBy: "test"}, time.Hour)
	b, err := contracts.Encode(m)
	if err != nil {
		t.Errorf("Encode: %v", err)
	}
	return &kgo.Record{
		Topic: contracts.TopicDeviceCommands, Key: []byte(deviceID), Value: b,
		Headers: []kgo.RecordHeader{
			{Key: contracts.HeaderEventType, Value: []byte(m.EventType)},
			{Key: contracts.HeaderCorrelationID, Value: []byte(m.CorrelationID)},
			{Key: contracts.HeaderVersion, Value: []byte(m.Version)},
		},
	}, m.CorrelationID
}

// others returns n device ids other than device whose commands share its
// partition, of partitions, and n whose commands do not (unless there is
// one partition).
func others(n, partitions int) (same, apart []string) {
	p := kafka.PartitionFor([]byte(device), partitions)
	for i := 0; len(same) < n || len(apart) < n; i++ {
		id := fmt.Sprintf("gw-other-%d", i)
		switch {
		case kafka.PartitionFor([]byte(id), partitions) == p && len(same) < n:
			same = append(same, id)
		case kafka.PartitionFor([]byte(id), partitions) != p && len(apart) < n, partitions == 1 && len(apart) < n:
			apart = append(apart, id)
		}
	}
	return same, apart
}

// sendCommands produces, in order, a command for each of ids and returns
// the correlationIds of those for device. It checks that the commands
// land in the partition PartitionFor gives. It may run on a goroutine of
// its own.
func sendCommands(t testing.TB, prod *kgo.Client, partitions int, ids ...string) []string {
	t.Helper()
	var ours []string
	recs := make([]*kgo.Record, len(ids))
	for i, id := range ids {
		var corr string
		recs[i], corr = command(t, id)
		if id == device {
			ours = append(ours, corr)
		}
	}
	for _, res := range prod.ProduceSync(context.Background(), recs...) {
		if res.Err != nil {
			t.Errorf("produce a command: %v", res.Err)
			continue
		}
		want := kafka.PartitionFor(res.Record.Key, partitions)
		if res.Record.Partition != want {
			t.Errorf("command for %s went to partition %d; PartitionFor says %d", res.Record.Key, res.Record.Partition, want)
		}
	}
	return ours
}

// cursorAt returns the stored cursor of the device's commands partition,
// or -1.
func cursorAt(t testing.TB, box *outbox.Store, partitions int) int64 {
	t.Helper()
	v, ok, err := box.Cursor("kafka/" + contracts.TopicDeviceCommands + "/" + strconv.Itoa(int(kafka.PartitionFor([]byte(device), partitions))))
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

// answers reads device.responses until want answers came, and returns
// their correlationIds.
func answers(t testing.TB, c *kfake.Cluster, want int) []string {
	t.Helper()
	var ids []string
	for _, r := range newReader(t, c, []string{contracts.TopicDeviceResponses}).read(t, want, 300*time.Millisecond, 30*time.Second) {
		m, err := contracts.Decode(r.Value)
		if err != nil {
			t.Fatalf("Decode(%q) = %v", r.Value, err)
		}
		if header(r, contracts.HeaderCorrelationID) != m.Header().CorrelationID || string(r.Key) != device {
			t.Errorf("answer keyed %q with headers %v; want the device's key and the answer's correlationId", r.Key, r.Headers)
		}
		ids = append(ids, m.Header().CorrelationID)
	}
	return ids
}

// TestAnswersTheDeviceCommandsOnly: commands produced by another client
// to the partition of the device's key are answered, with their
// correlationIds, on device.responses; commands for other devices, in the
// same partition or not, are not passed to the handler; commands sent
// before the gateway first ran are not either (it starts at the end).
func TestAnswersTheDeviceCommandsOnly(t *testing.T) {
	for _, n := range []int{1, 6, 13} {
		t.Run(fmt.Sprintf("%d-partitions", n), func(t *testing.T) {
			c := newCluster(t, kfake.SeedTopics(int32(n), contracts.TopicDeviceCommands))
			prod := newProducer(t, c)
			before := sendCommands(t, prod, n, device, device)
			box := openStore(t, t.TempDir())
			a := newAnswerer(t, box)
			startUplink(t, c, box, kafka.Config{}, a.handle)
			waitFor(t, 30*time.Second, "the cursor stored at the partition's end", func() bool { return cursorAt(t, box, n) == 2 })

			same, apart := others(3, n)
			var ids []string
			for i := range 30 {
				ids = append(ids, device, same[i%len(same)], apart[i%len(apart)])
			}
			ours := sendCommands(t, prod, n, ids...)
			waitFor(t, 30*time.Second, "30 commands answered", func() bool { return a.ran() == 30 })
			got := answers(t, c, 30)
			slices.Sort(got)
			slices.Sort(ours)
			if !slices.Equal(got, ours) {
				t.Errorf("answers to %d commands, %v; want the %d commands of %s", len(got), got, len(ours), device)
			}
			a.mu.Lock()
			for _, corr := range before {
				if a.runs[corr] != 0 {
					t.Errorf("command %s sent before the gateway first ran was run", corr)
				}
			}
			a.mu.Unlock()
			// The skipped commands are handled too: the cursor reaches the end.
			end := int64(2 + 30 + 30*len(sameIfOne(n, same, apart)))
			waitFor(t, 10*time.Second, fmt.Sprintf("the cursor at %d", end), func() bool { return cursorAt(t, box, n) == end })
		})
	}
}

// sameIfOne returns the other devices whose commands share the device's
// partition: same, and apart as well when there is one partition.
func sameIfOne(n int, same, apart []string) []string {
	if n == 1 {
		return append(same[:1:1], apart[0])
	}
	return same[:1]
}

// TestCommandsSurviveARestart: commands keep coming while the uplink is
// stopped and a new one started on the same outbox file: each command for
// the device runs exactly once, and is answered.
func TestCommandsSurviveARestart(t *testing.T) {
	c := newCluster(t)
	prod := newProducer(t, c)
	dir := t.TempDir()
	box := openStore(t, dir)
	a := newAnswerer(t, box)
	r := startUplink(t, c, box, kafka.Config{}, a.handle)
	waitFor(t, 30*time.Second, "the cursor stored", func() bool { return cursorAt(t, box, partitions) >= 0 })

	same, apart := others(2, partitions)
	const n = 100
	sent := make(chan []string, 1)
	go func() {
		var ours []string
		for i := range n / 5 {
			var ids []string
			for j := range 5 {
				ids = append(ids, device, same[(i+j)%2], apart[(i+j)%2])
			}
			ours = append(ours, sendCommands(t, prod, partitions, ids...)...)
			time.Sleep(5 * time.Millisecond)
		}
		sent <- ours
	}()
	waitFor(t, 30*time.Second, "30 commands answered", func() bool { return a.ran() >= 30 })
	r.stop()
	t.Logf("restarting after %d commands", a.ran())
	if err := box.Close(); err != nil {
		t.Fatal(err)
	}
	box = openStore(t, dir)
	a.mu.Lock()
	a.box = box
	a.mu.Unlock()
	startUplink(t, c, box, kafka.Config{}, a.handle)
	ours := <-sent
	waitFor(t, 30*time.Second, fmt.Sprintf("%d commands answered", n), func() bool { return a.ran() == n })
	a.mu.Lock()
	for _, corr := range ours {
		if k := a.runs[corr]; k != 1 {
			t.Errorf("command %s ran %d times; want once", corr, k)
		}
	}
	a.mu.Unlock()
	got := answers(t, c, n)
	slices.Sort(got)
	slices.Sort(ours)
	if !slices.Equal(slices.Compact(got), ours) {
		t.Errorf("%d distinct answers; want the %d commands' (lost or foreign answers)", len(slices.Compact(got)), len(ours))
	}
}

// TestCursorWaitsForTheAck: a command whose Ack is held back keeps the
// stored cursor at its offset while the commands after it are acked,
// skipped records included; its Ack moves the cursor to the end.
func TestCursorWaitsForTheAck(t *testing.T) {
	c := newCluster(t)
	prod := newProducer(t, c)
	box := openStore(t, t.TempDir())
	a := newAnswerer(t, box)
	startUplink(t, c, box, kafka.Config{}, a.handle)
	waitFor(t, 30*time.Second, "the cursor stored", func() bool { return cursorAt(t, box, partitions) == 0 })

	same, _ := others(1, partitions)
	sendCommands(t, prod, partitions, same[0], device) // offsets 0, 1
	rec, corr := command(t, device)
	a.mu.Lock()
	a.hold[corr] = true
	a.mu.Unlock()
	if err := prod.ProduceSync(context.Background(), rec).FirstErr(); err != nil { // offset 2, held
		t.Fatal(err)
	}
	sendCommands(t, prod, partitions, device, same[0], device, same[0]) // offsets 3..6
	waitFor(t, 30*time.Second, "4 commands run", func() bool { return a.ran() == 4 })
	waitFor(t, 10*time.Second, "the cursor at the held command", func() bool { return cursorAt(t, box, partitions) == 2 })
	time.Sleep(1500 * time.Millisecond) // longer than the uplink waits between two stores
	if got := cursorAt(t, box, partitions); got != 2 {
		t.Fatalf("cursor = %d while the command at offset 2 is not acked; want 2", got)
	}
	a.mu.Lock()
	held := a.held
	a.mu.Unlock()
	if len(held) != 1 || held[0].Offset != 2 {
		t.Fatalf("held %d commands; want the one at offset 2", len(held))
	}
	held[0].Ack()
	waitFor(t, 10*time.Second, "the cursor at the end", func() bool { return cursorAt(t, box, partitions) == 7 })
}

// TestFollowsAddedPartitions: when the commands topic gains partitions,
// the device's key maps to another one; the uplink notices, and answers
// the commands sent there, as well as those sent before to the old one.
func TestFollowsAddedPartitions(t *testing.T) {
	t.Cleanup(kafka.SetMetadataEvery(100 * time.Millisecond)) // after the uplink stopped
	const before = 2
	after := before + 1
	for kafka.PartitionFor([]byte(device), after) == kafka.PartitionFor([]byte(device), before) {
		after++
	}
	c := newCluster(t, kfake.SeedTopics(before, contracts.TopicDeviceCommands))
	box := openStore(t, t.TempDir())
	a := newAnswerer(t, box)
	startUplink(t, c, box, kafka.Config{}, a.handle)
	waitFor(t, 30*time.Second, "the cursor stored", func() bool { return cursorAt(t, box, before) >= 0 })
	ours := sendCommands(t, newProducer(t, c), before, device)

	admin := newProducer(t, c)
	req := kmsg.NewPtrCreatePartitionsRequest()
	tp := kmsg.NewCreatePartitionsRequestTopic()
	tp.Topic, tp.Count = contracts.TopicDeviceCommands, int32(after)
	req.Topics, req.TimeoutMillis = append(req.Topics, tp), 5000
	resp, err := req.RequestWith(context.Background(), admin)
	if err != nil {
		t.Fatal(err)
	}
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		t.Fatalf("create partitions: %v", err)
	}
	ours = append(ours, sendCommands(t, newProducer(t, c), after, device, device)...)
	waitFor(t, 30*time.Second, "3 commands answered", func() bool { return a.ran() == 3 })
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, corr := range ours {
		if a.runs[corr] != 1 {
			t.Errorf("command %s ran %d times; want once", corr, a.runs[corr])
		}
	}
}
