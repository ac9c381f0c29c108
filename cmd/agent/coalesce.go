package main

import (
	"context"
	"sync"
	"time"

	"github.com/iot-hub/agent/agent/outbox"
)

// The grouping of the devices' messages in the outbox: those that come
// within integrateWindow of the first share one Append, of at most
// integrateRecords records and integrateBytes bytes.
const (
	integrateWindow  = 50 * time.Millisecond
	integrateRecords = 256
	integrateBytes   = 256 << 10
)

// coalescer gathers the records its callers append within a window of
// the first into one outbox Append: one commit, one hand-out to the
// uplinks, one round of publishes and acknowledgements for them all.
// Devices' messages come one at a time, each at its own moment; appended
// apart, each cost a commit (two fsyncs) and a round of its own, most of
// what the agent spends on them (BenchmarkAgentMixedCPU). A caller waits
// at most the window longer for its record to be durable.
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

// append appends rec with the others of its window and returns once they
// are durable, with the Append's error; or with ctx's error if ctx ends
// first, when rec may still be appended.
func (c *coalescer) append(ctx context.Context, rec outbox.Record) error {
	c.mu.Lock()
	g := c.cur
	if g == nil {
		g = &group{done: make(chan struct{})}
		c.cur = g
		time.AfterFunc(c.window, func() { c.flush(g) })
	}
	g.recs = append(g.recs, rec)
	g.bytes += len(rec.Payload)
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
	ctx, cancel := context.WithTimeout(context.Background(), integrateTimeout)
	g.err = c.box.Append(ctx, g.recs...)
	cancel()
	close(g.done)
}
