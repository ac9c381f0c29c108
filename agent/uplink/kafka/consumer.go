package kafka

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/iot-hub/agent/internal/backoff"
)

// maxPending is how many commands may wait for their Ack before the
// uplink stops reading more.
const maxPending = 256

// metadataEvery is how often the commands topic's partition count is
// read again: when partitions are added, the device's key maps to
// another partition. A variable for the tests.
var metadataEvery = 5 * time.Minute

// Commands are read without a consumer group, offsets kept in the outbox
// (cursor.go), from the one partition the device id maps to
// (CommandsOwn) or from all (CommandsAll). A gateway thus needs no group
// coordinator or ACL on groups. Whose a record is, the payload's
// deviceId says, not its key: producers may send commands unkeyed.

// consumer reads the device's commands.
type consumer struct {
	u     *Uplink
	admin *kgo.Client // the producer's client, for metadata and offsets
	topic string
	log   *slog.Logger
	w     *cursorWriter

	mu    sync.Mutex
	parts map[int32]*tracker
	acked chan struct{} // signalled on every Ack
}

func newConsumer(u *Uplink, admin *kgo.Client) *consumer {
	return &consumer{
		u: u, admin: admin, topic: u.cfg.Topics.Commands, log: u.log,
		w: newCursorWriter(u.box, u.lines), parts: make(map[int32]*tracker),
		acked: make(chan struct{}, 1),
	}
}

// run reads commands until ctx ends, then stores the cursors a last time,
// waiting up to ConnectTimeout.
func (c *consumer) run(ctx context.Context) {
	n, ok := retry(ctx, c, "read the commands topic's partitions", c.partitions)
	if !ok {
		return
	}
	offsets := make(map[int32]kgo.Offset)
	for _, p := range c.toRead(0, n) {
		start, ok := retry(ctx, c, "find where to read commands from", func(ctx context.Context) (kgo.Offset, error) {
			return c.startOffset(ctx, p, n)
		})
		if !ok {
			return
		}
		offsets[p] = start
	}
	own := c.u.cfg.Partitioner.partition(c.u.key, n)
	var from any = "start"
	if next, known := c.parts[own].cursor(); known {
		from = next
	}
	c.log.Info("kafka: reading commands", "topic", c.topic, "partitions", c.u.cfg.CommandsPartitions, "of", n,
		"partitioner", c.u.cfg.Partitioner, "partition", own, "from", from)
	opts := append(c.u.commonOpts(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{c.topic: offsets}),
		// A stored offset no longer in the log (retention passed it while
		// the gateway was off): read what is left.
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxBytes(1<<20),
		kgo.FetchMaxPartitionBytes(1<<20),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		c.log.Error("kafka: commands consumer; no commands are read", "err", err)
		return
	}
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.w.run(ctx)
	}()
	c.poll(ctx, cl, n)
	cl.Close()
	<-writerDone
	stopCtx, cancel := context.WithTimeout(context.Background(), c.u.cfg.ConnectTimeout)
	defer cancel()
	c.w.flush(stopCtx)
}

// poll reads and hands out records until ctx ends.
func (c *consumer) poll(ctx context.Context, cl *kgo.Client, partitions int) {
	checked := time.Now()
	for ctx.Err() == nil {
		room := maxPending - c.unacked()
		if room <= 0 {
			select {
			case <-c.acked:
			case <-ctx.Done():
			}
			continue
		}
		pollCtx, cancel := context.WithTimeout(ctx, metadataEvery)
		fs := cl.PollRecords(pollCtx, room)
		cancel()
		if ctx.Err() != nil {
			return
		}
		fs.EachError(func(topic string, p int32, err error) {
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				return
			}
			c.u.lines.Warn("read", "kafka: reading commands", "topic", topic, "partition", p, "err", err)
		})
		fs.EachRecord(func(r *kgo.Record) { c.deliver(ctx, r) })
		if time.Since(checked) >= metadataEvery {
			checked = time.Now()
			partitions = c.recheck(ctx, cl, partitions)
		}
	}
}

// toRead returns the partitions to read of the first partitions of the
// topic, leaving out the first from: the device's, with CommandsOwn, or
// all.
func (c *consumer) toRead(from, partitions int) []int32 {
	if c.u.cfg.CommandsPartitions != CommandsAll {
		return []int32{c.u.cfg.Partitioner.partition(c.u.key, partitions)}
	}
	var ps []int32
	for p := from; p < partitions; p++ {
		ps = append(ps, int32(p))
	}
	return ps
}

// deliver passes a record for the device to the handler, and skips and
// counts the others.
func (c *consumer) deliver(ctx context.Context, r *kgo.Record) {
	c.mu.Lock()
	t := c.parts[r.Partition]
	c.mu.Unlock()
	if t == nil {
		return // not asked for
	}
	if !c.forDevice(r) {
		t.skip(r.Offset)
		if c.u.cfg.OnOtherDevice != nil {
			c.u.cfg.OnOtherDevice()
		}
		return
	}
	done := t.read(r.Offset)
	cmd := Command{
		Payload: r.Value, Key: r.Key, Headers: r.Headers, Partition: r.Partition, Offset: r.Offset,
		ReceivedAt: time.Now(),
		ack: func() {
			done()
			select {
			case c.acked <- struct{}{}:
			default:
			}
		},
	}
	if c.u.handle == nil {
		cmd.Ack()
		return
	}
	c.u.handle(ctx, cmd)
}

// forDevice reports whether r is for this device: whether its payload's
// deviceId is the device's, whatever its key. A payload without one (not
// JSON, not of the contracts) is the device's when keyed by it, so that
// the handler dead-letters it.
func (c *consumer) forDevice(r *kgo.Record) bool {
	var m struct {
		Payload struct {
			DeviceID *string `json:"deviceId"`
		} `json:"payload"`
	}
	if json.Unmarshal(r.Value, &m) == nil && m.Payload.DeviceID != nil {
		return *m.Payload.DeviceID == c.u.cfg.DeviceID
	}
	return bytes.Equal(r.Key, c.u.key)
}

// track starts following partition p from next (-1: unknown yet).
func (c *consumer) track(p int32, next int64) {
	t := newTracker(cursorName(c.topic, p), next, c.w.changed)
	c.mu.Lock()
	c.parts[p] = t
	c.mu.Unlock()
	c.w.add(t)
}

// unacked counts the commands waiting for their Ack.
func (c *consumer) unacked() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.parts {
		n += t.unacked()
	}
	return n
}

// startOffset decides where partition p's reading starts, and tracks it:
// at its stored cursor; else, with CommandsOwn, if the agent has a cursor
// of another partition of the topic (partitions were added since it last
// ran), at the partition's start, as every command for the device there
// came after; else (a fresh gateway, or one that reads all partitions
// for the first time), at the partition's end, stored as the cursor at
// once, so that a restart before the first command does not skip the
// ones sent meanwhile. A fresh gateway does not replay the fleet's
// history, nor commands sent before it first ran.
func (c *consumer) startOffset(ctx context.Context, p int32, partitions int) (kgo.Offset, error) {
	v, ok, err := c.u.box.Cursor(cursorName(c.topic, p))
	if err != nil {
		return kgo.Offset{}, fmt.Errorf("read the cursor: %w", err)
	}
	if ok {
		next, err := decodeCursor(v)
		if err == nil {
			c.track(p, next)
			return kgo.NewOffset().At(next), nil
		}
		c.log.Error("kafka: the commands cursor is damaged; reading from the partition's end", "cursor", cursorName(c.topic, p), "err", err)
	} else if c.u.cfg.CommandsPartitions == CommandsOwn {
		for q := range int32(partitions) {
			if _, ok, err := c.u.box.Cursor(cursorName(c.topic, q)); err == nil && ok {
				c.track(p, -1)
				return kgo.NewOffset().AtStart(), nil
			}
		}
	}
	end, err := c.endOffset(ctx, p)
	if err != nil {
		return kgo.Offset{}, err
	}
	if err := c.u.box.PutCursor(ctx, cursorName(c.topic, p), encodeCursor(end)); err != nil {
		return kgo.Offset{}, fmt.Errorf("store the cursor: %w", err)
	}
	c.track(p, end)
	return kgo.NewOffset().At(end), nil
}

// recheck reads the partition count again; when it grew, it adds the
// partitions to read now, from their start: the one the device's key now
// maps to (keeping the one read so far, for the commands already there),
// or with CommandsAll the new ones. It returns the count.
func (c *consumer) recheck(ctx context.Context, cl *kgo.Client, partitions int) int {
	reqCtx, cancel := context.WithTimeout(ctx, c.u.cfg.ConnectTimeout)
	defer cancel()
	n, err := c.partitions(reqCtx)
	if err != nil || n == partitions {
		return partitions
	}
	c.log.Warn("kafka: the commands topic's partition count changed", "topic", c.topic, "was", partitions, "now", n,
		"partition", c.u.cfg.Partitioner.partition(c.u.key, n))
	add := make(map[int32]kgo.Offset)
	for _, p := range c.toRead(partitions, n) {
		c.mu.Lock()
		_, have := c.parts[p]
		c.mu.Unlock()
		if have {
			continue
		}
		start := kgo.NewOffset().AtStart()
		next := int64(-1)
		if v, ok, err := c.u.box.Cursor(cursorName(c.topic, p)); err == nil && ok {
			if o, err := decodeCursor(v); err == nil {
				start, next = kgo.NewOffset().At(o), o
			}
		}
		c.track(p, next)
		add[p] = start
	}
	if len(add) > 0 {
		cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{c.topic: add})
	}
	return n
}

// partitions reads the commands topic's partition count from metadata.
func (c *consumer) partitions(ctx context.Context) (int, error) {
	req := kmsg.NewPtrMetadataRequest()
	t := kmsg.NewMetadataRequestTopic()
	t.Topic = kmsg.StringPtr(c.topic)
	req.Topics = append(req.Topics, t)
	resp, err := req.RequestWith(ctx, c.admin)
	if err != nil {
		return 0, err
	}
	for _, t := range resp.Topics {
		if t.Topic == nil || *t.Topic != c.topic {
			continue
		}
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			return 0, fmt.Errorf("topic %s: %w", c.topic, err)
		}
		if len(t.Partitions) == 0 {
			return 0, fmt.Errorf("topic %s has no partitions", c.topic)
		}
		return len(t.Partitions), nil
	}
	return 0, fmt.Errorf("topic %s: not in the metadata", c.topic)
}

// endOffset returns partition p's end: the offset of the next record
// (the last stable one, as commands are read committed).
func (c *consumer) endOffset(ctx context.Context, p int32) (int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	req.IsolationLevel = 1
	t := kmsg.NewListOffsetsRequestTopic()
	t.Topic = c.topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition, rp.Timestamp, rp.CurrentLeaderEpoch = p, -1, -1
	t.Partitions = append(t.Partitions, rp)
	req.Topics = append(req.Topics, t)
	resp, err := req.RequestWith(ctx, c.admin)
	if err != nil {
		return 0, err
	}
	for _, t := range resp.Topics {
		for _, rp := range t.Partitions {
			if t.Topic != c.topic || rp.Partition != p {
				continue
			}
			if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
				return 0, fmt.Errorf("end of %s/%d: %w", c.topic, p, err)
			}
			return rp.Offset, nil
		}
	}
	return 0, fmt.Errorf("end of %s/%d: not in the answer", c.topic, p)
}

// retry calls f until it succeeds or ctx ends, waiting a backoff between
// attempts and logging failures at most every rateEvery per what.
func retry[T any](ctx context.Context, c *consumer, what string, f func(context.Context) (T, error)) (T, bool) {
	for attempt := 1; ; attempt++ {
		reqCtx, cancel := context.WithTimeout(ctx, c.u.cfg.ConnectTimeout)
		v, err := f(reqCtx)
		cancel()
		if err == nil {
			return v, true
		}
		if ctx.Err() != nil {
			return v, false
		}
		c.u.lines.Warn("retry "+what, "kafka: cannot "+what+"; retrying", "topic", c.topic, "attempt", attempt, "err", err)
		if !backoff.Sleep(ctx, retryBackoff(attempt)) {
			return v, false
		}
	}
}

// rateEvery is the least time between two log lines of a repeated kind:
// an error reading, a record refused.
const rateEvery = 30 * time.Second
