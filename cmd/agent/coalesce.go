package main

import (
	"context"
	"sync"
	"time"

	"github.com/iot-hub/agent/agent/outbox"
)

// The grouping of the devices' messages in the outbox: those that come
// within groupWindow of the first share one Append, of at most
// groupRecords records and groupBytes bytes.
const (
	groupWindow  = 50 * time.Millisecond
	groupRecords = 256
	groupBytes   = 256 << 10
	// groupTimeout bounds a group's wait for its commit; its callers may
	// give up sooner, each with its own context.
	groupTimeout = 30 * time.Second
)

// coalescer gathers the records its callers append (the devices'
// messages) within a window of the first into one outbox Append: one
// commit, one hand-out to the uplinks, one round of publishes and
// acknowledgements for them all. Appended apart, as they come, each
// device's message at its own moment, each cost a commit (two fsyncs)
// and a round of its own: most of what the agent spent on them
// (BenchmarkAgentMixedCPU). A caller waits at most the window longer
// for its records to be durable.
//
// The sensors' readings do not go through it: a reading waiting for its
// group would be lost to a kill -9 for up to the window, where appended
// at once only those of the commit in progress are (the migration tests
// kill the agent and count the sim sensors' seqs: they saw the window's).
type coalescer struct {
	box      *outbox.Store
	window   time.Duration
	records  int
	maxBytes int

	mu  sync.Mutex
	cur *group // gathering; nil when none is
}

// group is the records of one window and their callers' wait.
type group struct {
	recs  []outbox.Record
	bytes int
	done  chan struct{} // closed when err is set
	err   error
}

// newCoalescer returns a coalescer appending to box groups of the
// records that come within window of the first, at most records of them
// and maxBytes of payload.
func newCoalescer(box *outbox.Store, window time.Duration, records, maxBytes int) *coalescer {
	return &coalescer{box: box, window: window, records: records, maxBytes: maxBytes}
}

// Append appends recs with the others of their window and returns once
// they are durable, with the Append's error; or with ctx's error if ctx
// ends first, when recs may still be appended.
func (c *coalescer) Append(ctx context.Context, recs ...outbox.Record) error {
	c.mu.Lock()
	g := c.cur
	if g == nil {
		g = &group{done: make(chan struct{})}
		c.cur = g
		time.AfterFunc(c.window, func() { c.flush(g) })
	}
	g.recs = append(g.recs, recs...)
	for _, r := range recs {
		g.bytes += len(r.Payload)
	}
	full := len(g.recs) >= c.records || g.bytes >= c.maxBytes
	c.mu.Unlock()
	if full {
		c.flush(g)
	}
	select {
	case <-g.done:
		return g.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// flush appends g's records, unless g has been flushed already (by its
// timer, or by the caller that filled it).
func (c *coalescer) flush(g *group) {
	c.mu.Lock()
	if c.cur != g {
		c.mu.Unlock()
		return
	}
	c.cur = nil
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), groupTimeout)
	g.err = c.box.Append(ctx, g.recs...)
	cancel()
	close(g.done)
}
