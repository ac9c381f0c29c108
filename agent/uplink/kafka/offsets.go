package kafka

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// startOffset decides where the reading of partition p of s starts, and
// tracks it: at its stored cursor; else, with CommandsOwn, if the agent
// has a cursor of another partition of the topic (partitions were added
// since it last ran), at the partition's start, as every record for the
// device there came after; else (a fresh gateway, or one that reads all
// partitions, or the topic, for the first time), at the partition's end,
// stored as the cursor at once, so that a restart before the first
// record does not skip the ones sent meanwhile. A fresh gateway does not
// replay the fleet's history, nor what was sent before it first ran.
func (c *consumer) startOffset(ctx context.Context, s *source, p int32) (kgo.Offset, error) {
	v, ok, err := c.u.box.Cursor(cursorName(s.topic, p))
	if err != nil {
		return kgo.Offset{}, fmt.Errorf("read the cursor: %w", err)
	}
	if ok {
		next, err := decodeCursor(v)
		if err == nil {
			c.track(s.topic, p, next)
			return kgo.NewOffset().At(next), nil
		}
		c.log.Error("kafka: the cursor is damaged; reading from the partition's end", "cursor", cursorName(s.topic, p), "err", err)
	} else if c.u.cfg.CommandsPartitions == CommandsOwn {
		for q := range int32(s.partitions) {
			if _, ok, err := c.u.box.Cursor(cursorName(s.topic, q)); err == nil && ok {
				c.track(s.topic, p, -1)
				return kgo.NewOffset().AtStart(), nil
			}
		}
	}
	end, err := c.endOffset(ctx, s.topic, p)
	if err != nil {
		return kgo.Offset{}, err
	}
	if err := c.u.box.PutCursor(ctx, cursorName(s.topic, p), encodeCursor(end)); err != nil {
		return kgo.Offset{}, fmt.Errorf("store the cursor: %w", err)
	}
	c.track(s.topic, p, end)
	return kgo.NewOffset().At(end), nil
}

// recheck reads the partition counts again, and reports whether every
// topic could be read.
func (c *consumer) recheck(ctx context.Context, cl *kgo.Client) bool {
	read := true
	for _, s := range c.sources() {
		if !c.recheckSource(ctx, cl, s) {
			read = false
		}
	}
	return read
}

// recheckSource reads the partition count of s again; when it grew, it
// adds the partitions to read now, from their start: the one the
// device's key now maps to (keeping the one read so far, for the records
// already there), or with CommandsAll the new ones. A topic that could
// not be read before (0 partitions) grows so too: what it holds came
// since the uplink started. It reports whether the topic could be read,
// now or before.
func (c *consumer) recheckSource(ctx context.Context, cl *kgo.Client, s *source) bool {
	reqCtx, cancel := context.WithTimeout(ctx, c.u.cfg.ConnectTimeout)
	defer cancel()
	n, err := c.partitions(reqCtx, s.topic)
	switch {
	case err != nil && s.partitions == 0:
		c.u.lines.Warn("unread "+s.topic, "kafka: cannot read the topic's partitions; retrying", "topic", s.topic, "err", err)
		return false
	case err != nil || n == s.partitions:
		return true
	case s.partitions == 0:
		c.log.Info("kafka: the topic can be read now; reading it from its start", "topic", s.topic, "of", n,
			"partition", c.u.cfg.Partitioner.partition(c.u.key, n))
	default:
		c.log.Warn("kafka: the topic's partition count changed", "topic", s.topic, "was", s.partitions, "now", n,
			"partition", c.u.cfg.Partitioner.partition(c.u.key, n))
	}
	add := make(map[int32]kgo.Offset)
	for _, p := range c.toRead(s.partitions, n) {
		if c.tracked(s.topic, p) {
			continue
		}
		start := kgo.NewOffset().AtStart()
		next := int64(-1)
		if v, ok, err := c.u.box.Cursor(cursorName(s.topic, p)); err == nil && ok {
			if o, err := decodeCursor(v); err == nil {
				start, next = kgo.NewOffset().At(o), o
			}
		}
		c.track(s.topic, p, next)
		add[p] = start
	}
	s.partitions = n
	if len(add) > 0 {
		cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{s.topic: add})
	}
	return true
}

// partitions reads topic's partition count from metadata.
func (c *consumer) partitions(ctx context.Context, topic string) (int, error) {
	req := kmsg.NewPtrMetadataRequest()
	t := kmsg.NewMetadataRequestTopic()
	t.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, t)
	resp, err := req.RequestWith(ctx, c.admin)
	if err != nil {
		return 0, err
	}
	for _, t := range resp.Topics {
		if t.Topic == nil || *t.Topic != topic {
			continue
		}
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			return 0, fmt.Errorf("topic %s: %w", topic, err)
		}
		if len(t.Partitions) == 0 {
			return 0, fmt.Errorf("topic %s has no partitions", topic)
		}
		return len(t.Partitions), nil
	}
	return 0, fmt.Errorf("topic %s: not in the metadata", topic)
}

// endOffset returns the end of partition p of topic: the offset of the
// next record (the last stable one, as records are read committed).
func (c *consumer) endOffset(ctx context.Context, topic string, p int32) (int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	req.IsolationLevel = 1
	t := kmsg.NewListOffsetsRequestTopic()
	t.Topic = topic
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
			if t.Topic != topic || rp.Partition != p {
				continue
			}
			if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
				return 0, fmt.Errorf("end of %s/%d: %w", topic, p, err)
			}
			return rp.Offset, nil
		}
	}
	return 0, fmt.Errorf("end of %s/%d: not in the answer", topic, p)
}
