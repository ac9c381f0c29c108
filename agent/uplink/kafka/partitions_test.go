package kafka_test

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/iot-hub/agent/agent/uplink/kafka"
	"github.com/iot-hub/agent/contracts"
)

// sendTo produces, as a backend with its own partitioner would, a command
// for deviceID to partition p of the commands topic, keyed key (nil:
// none), and returns its correlationId.
func sendTo(t testing.TB, c *kfake.Cluster, deviceID string, key []byte, p int32) string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	rec, corr := command(t, deviceID)
	rec.Key, rec.Partition = key, p
	res := cl.ProduceSync(context.Background(), rec)
	if err := res.FirstErr(); err != nil {
		t.Fatal(err)
	}
	if got := res[0].Record.Partition; got != p {
		t.Fatalf("command went to partition %d; want %d", got, p)
	}
	return corr
}

// deviceOn returns a device id, other than device, that partitioner
// places on partition p of partitions.
func deviceOn(p int32, partitions int, partitioner func([]byte, int) int32) string {
	for i := 0; ; i++ {
		id := fmt.Sprintf("gw-other-%d", i)
		if partitioner([]byte(id), partitions) == p {
			return id
		}
	}
}

// agent is an uplink answering the commands of one device, counting the
// records of others it read.
type agent struct {
	*answerer
	others atomic.Int64
}

// startAgent runs an uplink for deviceID on a store of its own.
func startAgent(t testing.TB, c *kfake.Cluster, deviceID string, cfg kafka.Config) *agent {
	t.Helper()
	box := openStore(t, t.TempDir())
	a := &agent{answerer: newAnswerer(t, box)}
	a.id = deviceID
	cfg.DeviceID = deviceID
	cfg.OnOtherDevice = func() { a.others.Add(1) }
	startUplink(t, c, box, cfg, a.handle)
	want := 1
	if cfg.CommandsPartitions == kafka.CommandsAll {
		want = partitions
	}
	waitFor(t, 30*time.Second, deviceID+"'s cursors stored", func() bool {
		n := 0
		for p := range partitions {
			if _, ok, _ := box.Cursor(fmt.Sprintf("kafka/%s/%d", contracts.TopicDeviceCommands, p)); ok {
				n++
			}
		}
		return n == want
	})
	return a
}

// ranTimes returns how many times the command corr ran.
func (a *agent) ranTimes(corr string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.runs[corr]
}

// TestKeylessCommandsOwnPartitions: with CommandsOwn, a command without a
// key on the device's partition is answered; one on another partition is
// not read by the device, and the gateway whose partition it is counts it
// as another device's, without running it.
func TestKeylessCommandsOwnPartitions(t *testing.T) {
	c := newCluster(t)
	own := kafka.PartitionFor([]byte(device), partitions)
	elsewhere := (own + 1) % partitions
	a := startAgent(t, c, device, kafka.Config{})
	b := startAgent(t, c, deviceOn(elsewhere, partitions, kafka.PartitionFor), kafka.Config{})

	lost := sendTo(t, c, device, nil, elsewhere)
	waitFor(t, 30*time.Second, "the command on the other partition counted by its gateway", func() bool { return b.others.Load() == 1 })
	kept := sendTo(t, c, device, nil, own)
	waitFor(t, 30*time.Second, "the keyless command on the device's partition answered", func() bool { return a.ranTimes(kept) == 1 })
	wrongKey := sendTo(t, c, device, []byte(b.id), own)
	waitFor(t, 30*time.Second, "the command keyed by another device answered", func() bool { return a.ranTimes(wrongKey) == 1 })
	if got := answers(t, c, 2); !slices.Contains(got, kept) || !slices.Contains(got, wrongKey) || len(got) != 2 {
		t.Errorf("answers %v; want those to %s and %s", got, kept, wrongKey)
	}
	if a.ranTimes(lost) != 0 || b.ran() != 0 || a.others.Load() != 0 {
		t.Errorf("the command on partition %d ran %d times, gateway b ran %d commands, a counted %d of others; want 0, 0, 0",
			elsewhere, a.ranTimes(lost), b.ran(), a.others.Load())
	}
}

// TestCommandsAllPartitions: two gateways reading all partitions answer
// each its own commands, sent without a key to every partition, count
// the other's, and store a cursor per partition at its end.
func TestCommandsAllPartitions(t *testing.T) {
	c := newCluster(t)
	cfg := kafka.Config{CommandsPartitions: kafka.CommandsAll}
	a := startAgent(t, c, device, cfg)
	b := startAgent(t, c, "gw-b", cfg)
	var forA, forB []string
	for p := range int32(partitions) {
		forA = append(forA, sendTo(t, c, a.id, nil, p))
		forB = append(forB, sendTo(t, c, b.id, nil, p), sendTo(t, c, b.id, []byte(b.id), p))
	}
	for _, g := range []struct {
		agent *agent
		ours  []string
		other int
	}{{a, forA, len(forB)}, {b, forB, len(forA)}} {
		waitFor(t, 30*time.Second, g.agent.id+"'s commands answered and the other's counted", func() bool {
			return g.agent.ran() == len(g.ours) && g.agent.others.Load() == int64(g.other)
		})
		for _, corr := range g.ours {
			if n := g.agent.ranTimes(corr); n != 1 {
				t.Errorf("%s ran its command %s %d times; want once", g.agent.id, corr, n)
			}
		}
		for p := range partitions {
			waitFor(t, 10*time.Second, fmt.Sprintf("%s's cursor of partition %d at its end, 3", g.agent.id, p), func() bool {
				v, ok, err := g.agent.box.Cursor(fmt.Sprintf("kafka/%s/%d", contracts.TopicDeviceCommands, p))
				return err == nil && ok && string(v) == "3"
			})
		}
	}
}

// TestLegacyPartitioner: with Partitioner legacy, the gateway reads the
// partition kafkajs's LegacyPartitioner puts its key on, and answers the
// commands keyed so.
func TestLegacyPartitioner(t *testing.T) {
	c := newCluster(t)
	p := kafka.LegacyPartitionFor([]byte(device), partitions)
	if p == kafka.PartitionFor([]byte(device), partitions) {
		t.Fatalf("the test needs a device whose partitions differ; %s has %d under both", device, p)
	}
	a := startAgent(t, c, device, kafka.Config{Partitioner: kafka.PartitionerLegacy})
	corr := sendTo(t, c, device, []byte(device), p)
	waitFor(t, 30*time.Second, "the legacy-keyed command answered", func() bool { return a.ranTimes(corr) == 1 })
	if got := answers(t, c, 1); !slices.Equal(got, []string{corr}) {
		t.Errorf("answers %v; want [%s]", got, corr)
	}
}
