package main

import (
	"context"
	"sync"
	"time"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/agent/sensors"
)

var _ sensors.Appender = (*coalescer)(nil)

// The grouping of telemetry in the outbox: the records that come within
// one window (maxWindow, or a quarter of the shortest sensor's interval
// if less) of a grid of them from the agent's start share one Append, of
// at most groupRecords records and groupBytes bytes.
const (
	maxWindow    = 100 * time.Millisecond
	groupRecords = 256
	groupBytes   = 256 << 10
	// groupTimeout bounds a group's wait for its commit; its callers may
	// give up sooner, each with its own context.
	groupTimeout = 30 * time.Second
)

// telemetryWindow is the grouping window for sensors read on schedules:
// maxWindow, or a quarter of the shortest interval if less, so that a
// read's wait for its group keeps well within its interval.
func telemetryWindow(schedules []sensors.Schedule) time.Duration {
	w := maxWindow
	for _, sc := range schedules {
		w = min(w, sc.Interval/4)
	}
	return w
}

// coalescer gathers the telemetry records its callers append (the
// sensors' readings, the devices' messages) within one window into one
// outbox Append: one commit, one hand-out to the uplinks,
// one round of publishes and acknowledgements for them all. Appended
// apart, as they come (a Modbus slave's reading after another's, each
// device's message at its own moment), each cost a commit (two fsyncs)
// and a round of its own: most of what the agent spent on them
// (BenchmarkAgentMixedCPU). A caller waits at most the window longer
// for its records to be durable, half of it on average. The windows
// keep to a grid, rather than each starting with its first record, so
// that the moments the agent wakes for them are at most one a window:
// the sensors' readings and the devices' messages of a window share
// them.
//
// What a kill -9 or a power cut may take is unchanged in kind: records
// whose Append has not returned, as for a commit in progress without
// groups; the group makes that moment up to the window long, where a
// commit alone takes a few milliseconds. A reading so taken is gone
// (the sensor reads again at its interval); a device's message was not
// acknowledged, and the device sends it again.
type coalescer struct {
	box      *outbox.Store
	window   time.Duration
	records  int
	maxBytes int

	origin time.Time // of the windows' grid

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
// records that come within one window of a grid from now, at most
// records of them and maxBytes of payload.
func newCoalescer(box *outbox.Store, window time.Duration, records, maxBytes int) *coalescer {
	return &coalescer{box: box, window: window, records: records, maxBytes: maxBytes, origin: time.Now()}
}

// Append appends recs with the others of their window and returns once
// they are durable, with the Append's error; or with ctx's error if ctx
// ends first, when recs may still be appended. It is the sampler's
// sensors.Appender.
func (c *coalescer) Append(ctx context.Context, recs ...outbox.Record) error {
	c.mu.Lock()
	g := c.cur
	if g == nil {
		g = &group{done: make(chan struct{})}
		c.cur = g
		time.AfterFunc(c.window-time.Since(c.origin)%c.window, func() { c.flush(g) })
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
