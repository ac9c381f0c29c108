package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/agent/record"
	"github.com/iot-hub/agent/agent/sensors"
	"github.com/iot-hub/agent/contracts"
)

var _ sensors.ReadingsAppender = (*coalescer)(nil)

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
	// eventBytes bounds the readings of one device.telemetry event made
	// of a window's (as estimated by readingBytes), unless one sensor's
	// take more: a window of more makes more events; a sensor's readings
	// stay in one. Brokers take far larger messages (mosquitto's
	// and Kafka's default limits are 256 MB and 1 MB, AWS IoT's 128 KB).
	eventBytes = 32 << 10
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
// The sensors' readings (AppendReadings), once mergeReadingsOf has
// named the gateway, go as one device.telemetry event a window (more if
// they pass eventBytes), their sensors named in each reading, rather
// than an event a sensor: the 200 sensors of BenchmarkAgentMixedCPU make
// a few events a second, not 200, each with its envelope, its record in
// the outbox, its PUBLISH and PUBACK.
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

	gateway  contracts.Origin // the readings' events', once mergeReadingsOf has named it
	deviceID string
	topic    string

	mu       sync.Mutex
	cur      *group // gathering; nil when none is
	lastSize int    // how many readings the event filling last held
}

// group is the records and readings of one window and their callers'
// wait.
type group struct {
	recs   []outbox.Record
	events []*readingsEvent // the last one filling
	bytes  int              // of the records' payloads and the readings' estimates
	done   chan struct{}    // closed when err is set
	err    error
}

// readingsEvent is a device.telemetry event a window's readings make.
type readingsEvent struct {
	correlationID string
	readings      []contracts.Reading
	bytes         int // their readingBytes
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
	g := c.gathering()
	g.recs = append(g.recs, recs...)
	for _, r := range recs {
		g.bytes += len(r.Payload)
	}
	return c.await(ctx, g)
}

// mergeReadingsOf has c send the readings given to AppendReadings as
// the device.telemetry events of the gateway deviceID.
func (c *coalescer) mergeReadingsOf(deviceID string) error {
	topics, err := contracts.DeviceTopics(deviceID)
	if err != nil {
		return err
	}
	c.gateway, c.deviceID, c.topic = contracts.DeviceOrigin(deviceID), deviceID, topics.Telemetry
	return nil
}

// AppendReadings adds rs, a sensor's checked readings, to a
// device.telemetry event of their window (the one filling, or a new one
// if rs would take it past eventBytes) and returns the event's
// correlationId once it is durable, or the error, as Append does. It is
// the sampler's sensors.ReadingsAppender.
func (c *coalescer) AppendReadings(ctx context.Context, rs []contracts.Reading) (string, error) {
	if c.deviceID == "" {
		return "", errors.New("agent: readings appended before mergeReadingsOf named the gateway")
	}
	size := 0
	for _, r := range rs {
		size += readingBytes(r)
	}
	c.mu.Lock()
	g := c.gathering()
	var e *readingsEvent
	if n := len(g.events); n > 0 && g.events[n-1].bytes+size <= eventBytes {
		e = g.events[n-1]
	} else {
		// Sized as the last one was: the sensors of an interval are read
		// together, window after window.
		e = &readingsEvent{correlationID: contracts.NewCorrelationID(), readings: make([]contracts.Reading, 0, max(c.lastSize, len(rs)))}
		g.events = append(g.events, e)
	}
	e.readings = append(e.readings, rs...)
	c.lastSize = len(e.readings)
	e.bytes += size
	g.bytes += size
	return e.correlationID, c.await(ctx, g)
}

// readingBytes is about the length of r in a device.telemetry event.
func readingBytes(r contracts.Reading) int {
	return len(r.Sensor) + len(r.Metric) + len(r.Unit) + len(`{"sensor":"","metric":"","value":-0.12345678901234567,"unit":"","at":"2006-01-02T15:04:05.999999999Z"},`)
}

// gathering returns the group gathering, starting one if none is. c.mu
// must be held.
func (c *coalescer) gathering() *group {
	if c.cur == nil {
		g := &group{done: make(chan struct{})}
		c.cur = g
		time.AfterFunc(c.window-time.Since(c.origin)%c.window, func() { c.flush(g) })
	}
	return c.cur
}

// await unlocks c.mu, held since g got what the caller added, flushes g
// if that filled it, and waits for g's commit, or for ctx's end.
func (c *coalescer) await(ctx context.Context, g *group) error {
	full := len(g.recs) >= c.records || g.bytes >= c.maxBytes // readings: by their bytes
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
	recs, err := c.encode(g.events)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), groupTimeout)
		err = c.box.Append(ctx, append(recs, g.recs...)...)
		cancel()
	}
	g.err = err
	close(g.done)
}

// encode makes the records of a window's readings' events.
func (c *coalescer) encode(events []*readingsEvent) ([]outbox.Record, error) {
	recs := make([]outbox.Record, 0, len(events))
	for _, e := range events {
		m := contracts.NewDeviceTelemetry(c.gateway, contracts.DeviceTelemetryPayload{DeviceID: c.deviceID, Readings: e.readings})
		m.CorrelationID = e.correlationID // the one AppendReadings returned
		b, err := contracts.Encode(m)
		if err != nil {
			return nil, fmt.Errorf("agent: the readings' device.telemetry: %w", err)
		}
		recs = append(recs, record.Of(outbox.LaneTelemetry, c.topic, c.deviceID, record.HeadOf(m.Header()), b))
	}
	return recs, nil
}
