package kafka

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/iot-hub/agent/agent/uplink"
	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/internal/backoff"
)

// maxPending is how many commands may wait for their Ack before the
// uplink stops reading more.
const maxPending = 256

// metadataEvery is how often the partition counts of the topics read are
// read again: when partitions are added, the device's key maps to
// another partition. A variable for the tests.
var metadataEvery = 5 * time.Minute

// The consumer reads two topics with one client, so that one fetch
// request covers both: the commands topic, and the certificates topic,
// where the backend answers the device's CSRs with certificate.issued.
// It reads them without a consumer group, offsets kept in the outbox
// (cursor.go), from the one partition the device id maps to
// (CommandsOwn) or from all (CommandsAll). A gateway thus needs no group
// coordinator or ACL on groups. Whose a record is, the payload's
// deviceId says, not its key: producers may send commands unkeyed.

// source is one topic the consumer reads.
type source struct {
	topic     string // its configured name
	catalogue string // the contracts' name: uplink.Command.Catalogue
	// partitions is the topic's partition count when last read; 0 until
	// it could be read.
	partitions int
}

// topicPartition names one partition of a topic read.
type topicPartition struct {
	topic     string
	partition int32
}

// consumer reads the device's commands and certificates.
type consumer struct {
	u            *Uplink
	admin        *kgo.Client // the producer's client, for metadata and offsets
	commands     *source
	certificates *source
	log          *slog.Logger
	w            *cursorWriter

	mu    sync.Mutex
	parts map[topicPartition]*tracker
	acked chan struct{} // signalled on every Ack
}

func newConsumer(u *Uplink, admin *kgo.Client) *consumer {
	return &consumer{
		u: u, admin: admin, log: u.log,
		commands:     &source{topic: u.cfg.Topics.Commands, catalogue: contracts.TopicDeviceCommands},
		certificates: &source{topic: u.cfg.Topics.Certificates, catalogue: contracts.TopicCertificateEvents},
		w:            newCursorWriter(u.box, u.lines), parts: make(map[topicPartition]*tracker),
		acked: make(chan struct{}, 1),
	}
}

// sources returns the topics read: the commands topic, then the
// certificates topic.
func (c *consumer) sources() []*source { return []*source{c.commands, c.certificates} }

// run reads commands and certificates until ctx ends, then stores the
// cursors a last time, waiting up to ConnectTimeout. It waits for the
// commands topic to be readable; the certificates topic, when it cannot
// be read at the start, is looked for again with the partition counts
// (recheck), and commands are read meanwhile.
func (c *consumer) run(ctx context.Context) {
	n, ok := retry(ctx, c, c.commands.topic, "read the commands topic's partitions", func(ctx context.Context) (int, error) {
		return c.partitions(ctx, c.commands.topic)
	})
	if !ok {
		return
	}
	c.commands.partitions = n
	reqCtx, cancel := context.WithTimeout(ctx, c.u.cfg.ConnectTimeout)
	n, err := c.partitions(reqCtx, c.certificates.topic)
	cancel()
	switch {
	case ctx.Err() != nil:
		return
	case err != nil:
		c.log.Warn("kafka: cannot read the certificates topic's partitions; certificate.issued is not received until it can, looked for again soon",
			"topic", c.certificates.topic, "err", err)
	default:
		c.certificates.partitions = n
	}
	consume := make(map[string]map[int32]kgo.Offset)
	for _, s := range c.sources() {
		if s.partitions == 0 {
			continue
		}
		consume[s.topic] = make(map[int32]kgo.Offset)
		for _, p := range c.toRead(0, s.partitions) {
			start, ok := retry(ctx, c, s.topic, "find where to read "+s.topic+" from", func(ctx context.Context) (kgo.Offset, error) {
				return c.startOffset(ctx, s, p)
			})
			if !ok {
				return
			}
			consume[s.topic][p] = start
		}
	}
	c.logReading()
	opts := append(c.u.commonOpts(),
		kgo.ConsumePartitions(consume),
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
	c.poll(ctx, cl)
	cl.Close()
	<-writerDone
	stopCtx, cancel := context.WithTimeout(context.Background(), c.u.cfg.ConnectTimeout)
	defer cancel()
	c.w.flush(stopCtx)
}

// logReading says, once per start, which partitions are read and from
// where: the line "kafka: reading commands", with the certificates
// topic's as attributes of their own.
func (c *consumer) logReading() {
	attrs := []any{"topic", c.commands.topic, "partitions", c.u.cfg.CommandsPartitions, "of", c.commands.partitions, "partitioner", c.u.cfg.Partitioner}
	attrs = append(attrs, c.position(c.commands, "partition", "from")...)
	attrs = append(attrs, "certificates", c.certificates.topic, "certificatesOf", c.certificates.partitions)
	if c.certificates.partitions > 0 {
		attrs = append(attrs, c.position(c.certificates, "certificatesPartition", "certificatesFrom")...)
	}
	c.log.Info("kafka: reading commands", attrs...)
}

// position returns the attributes, named partition and from, of the
// device's partition of s and the offset its reading starts at ("start"
// when it is not known yet).
func (c *consumer) position(s *source, partition, from string) []any {
	own := c.u.cfg.Partitioner.partition(c.u.key, s.partitions)
	var at any = "start"
	c.mu.Lock()
	t := c.parts[topicPartition{s.topic, own}]
	c.mu.Unlock()
	if next, known := t.cursor(); known {
		at = next
	}
	return []any{partition, own, from, at}
}

// poll reads and hands out records until ctx ends, reading the partition
// counts again every metadataEvery, or sooner while a topic cannot be
// read.
func (c *consumer) poll(ctx context.Context, cl *kgo.Client) {
	misses := 0 // rechecks in a row that left a topic unread
	if c.certificates.partitions == 0 {
		misses = 1
	}
	due := time.Now().Add(recheckAfter(misses))
	for ctx.Err() == nil {
		room := maxPending - c.unacked()
		if room <= 0 {
			select {
			case <-c.acked:
			case <-ctx.Done():
			}
			continue
		}
		pollCtx, cancel := context.WithDeadline(ctx, due)
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
		if !time.Now().Before(due) {
			if c.recheck(ctx, cl) {
				misses = 0
			} else {
				misses++
			}
			due = time.Now().Add(recheckAfter(misses))
		}
	}
}

// recheckAfter is the wait before the partition counts are read again:
// metadataEvery, or after misses rechecks in a row that left a topic
// unread, the uplink's backoff.
func recheckAfter(misses int) time.Duration {
	if misses == 0 {
		return metadataEvery
	}
	return min(metadataEvery, retryBackoff(misses))
}

// toRead returns the partitions to read of the first partitions of a
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

// deliver passes a record for the device to the handler, and skips the
// others: of the commands topic, those for other devices, counted; of
// the certificates topic, all but the device's certificate.issued.
func (c *consumer) deliver(ctx context.Context, r *kgo.Record) {
	c.mu.Lock()
	t := c.parts[topicPartition{r.Topic, r.Partition}]
	c.mu.Unlock()
	if t == nil {
		return // not asked for
	}
	src := c.commands
	if r.Topic == c.certificates.topic {
		src = c.certificates
		if !c.issuedForDevice(r) {
			t.skip(r.Offset)
			return
		}
	} else {
		if !c.forDevice(r, readAddress(r.Value)) {
			t.skip(r.Offset)
			if c.u.cfg.OnOtherDevice != nil {
				c.u.cfg.OnOtherDevice()
			}
			return
		}
		c.hintKey(r)
	}
	done := t.read(r.Offset)
	cmd := Command{
		Command: uplink.Command{
			Topic: r.Topic, Catalogue: src.catalogue, Payload: r.Value, ReceivedAt: time.Now(),
			Reply: contracts.TopicDeviceResponses, DeadLetters: contracts.TopicDLQ,
			Ack: func() {
				done()
				select {
				case c.acked <- struct{}{}:
				default:
				}
			},
		},
		Key: r.Key, Headers: r.Headers, Partition: r.Partition, Offset: r.Offset,
	}
	if c.u.handle == nil {
		cmd.Ack()
		return
	}
	c.u.handle(ctx, cmd)
}

// track starts following partition p of topic from next (-1: unknown
// yet).
func (c *consumer) track(topic string, p int32, next int64) {
	t := newTracker(cursorName(topic, p), next, c.w.changed)
	c.mu.Lock()
	c.parts[topicPartition{topic, p}] = t
	c.mu.Unlock()
	c.w.add(t)
}

// tracked reports whether partition p of topic is followed.
func (c *consumer) tracked(topic string, p int32) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.parts[topicPartition{topic, p}]
	return ok
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

// retry calls f until it succeeds or ctx ends, waiting a backoff between
// attempts and logging failures at most every rateEvery per what.
func retry[T any](ctx context.Context, c *consumer, topic, what string, f func(context.Context) (T, error)) (T, bool) {
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
		c.u.lines.Warn("retry "+what, "kafka: cannot "+what+"; retrying", "topic", topic, "attempt", attempt, "err", err)
		if !backoff.Sleep(ctx, retryBackoff(attempt)) {
			return v, false
		}
	}
}

// rateEvery is the least time between two log lines of a repeated kind:
// an error reading, a record refused.
const rateEvery = 30 * time.Second
