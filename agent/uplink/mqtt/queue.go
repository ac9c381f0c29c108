package mqtt

import (
	"bytes"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/eclipse/paho.golang/autopaho/queue"
	"github.com/eclipse/paho.golang/packets"

	"github.com/iot-hub/agent/agent/outbox"
)

// Publishing goes through autopaho's publish queue, which one goroutine
// drains in order, writing each PUBLISH without waiting for its PUBACK.
// Order matters (records of a lane must arrive in order), and so does a
// single writer of PUBLISHes.
//
// outboxQueue is that queue, over the outbox: Peek takes entries from
// the outbox (TryNext) within the window of publishes awaiting their
// PUBACK, and Wait gives autopaho's goroutine a channel that the outbox
// closes when entries come, or that a PUBACK closes when the window was
// full: no goroutine in between. ackSession is paho's in-memory session
// state with one addition: it learns the PUBACK of each entry's PUBLISH
// and settles the entry in the outbox (Ack, Quarantine or Release).
// In-flight publishes stay in the session across reconnects and are sent
// again by paho, as MQTT wants.

// outboxQueue implements queue.Queue over the outbox.
type outboxQueue struct {
	u      *Uplink
	sess   *ackSession
	window int
	buf    bytes.Buffer // the packet Reader returns

	mu       sync.Mutex
	taken    int            // entries taken from the outbox and not settled
	entries  []outbox.Entry // taken, not yet published
	freed    chan struct{}  // closed when the window has room again
	wake     chan struct{}  // closed by the outbox when it may have entries
	drained  chan struct{}  // closed when nothing is taken any more
	stopping bool           // take nothing more
}

var _ queue.Queue = (*outboxQueue)(nil)

func newOutboxQueue(u *Uplink, sess *ackSession) *outboxQueue {
	return &outboxQueue{u: u, sess: sess, window: u.cfg.Window}
}

// roomLocked reports whether the window has room to take entries. While
// most of it is in flight, it waits for an eighth of it to come free:
// one read of the outbox per PUBACK costs more than the wait, which more
// PUBACKs on their way keep short. With little in flight, one free slot
// will do, so a lone record leaves at once.
func (q *outboxQueue) roomLocked() bool {
	need := 1
	if q.taken >= q.window/2 {
		need = max(1, q.window/8)
	}
	return q.window-q.taken >= need
}

// takeLocked takes the entries ready in the outbox, as many as the window
// has room for. When the outbox has none, q.wake is the channel it closes
// once it may have: until then there is no need to look again.
func (q *outboxQueue) takeLocked() {
	if q.stopping || !q.roomLocked() {
		return
	}
	if q.wake != nil {
		select {
		case <-q.wake:
			q.wake = nil
		default:
			return // the outbox had none, and has not changed since
		}
	}
	wake := make(chan struct{})
	entries, err := q.u.box.TryNext(q.window-q.taken, wake)
	if err != nil {
		q.u.log.Error("mqtt: outbox", "err", err)
		return
	}
	if len(entries) == 0 {
		q.wake = wake
	}
	q.taken += len(entries)
	q.entries = append(q.entries, entries...)
}

// Wait returns a channel closed when there may be an entry to publish:
// at once if there is one; when the window has room again if it is full;
// else when the outbox has entries.
func (q *outboxQueue) Wait() chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.stopping && len(q.entries) == 0 && q.roomLocked() {
		q.takeLocked()
	}
	switch {
	case q.stopping:
		return make(chan struct{}) // never: the uplink is stopping
	case len(q.entries) > 0:
		return closed
	case !q.roomLocked():
		q.freed = make(chan struct{})
		return q.freed
	case q.wake != nil:
		return q.wake
	default: // the outbox failed; it is closing
		return make(chan struct{})
	}
}

// closed is a closed channel.
var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// Enqueue is not used: records enter through the outbox.
func (q *outboxQueue) Enqueue(io.Reader) error {
	return errors.New("mqtt: publish through the outbox, not the queue")
}

// Peek returns the next entry as a queue entry, and tells the session
// that the next PUBLISH it stores is that entry's. When there is none, it
// sends what the connection has buffered.
func (q *outboxQueue) Peek() (queue.Entry, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.entries) == 0 {
		q.takeLocked()
	}
	if len(q.entries) == 0 {
		q.u.flush() // nothing more to write for now: send the batch
		return nil, queue.ErrEmpty
	}
	e := q.entries[0]
	q.entries = q.entries[1:]
	q.sess.expect(func(cp packets.ControlPacket) { q.settle(e, cp) })
	return &queueEntry{q: q, e: e}, nil
}

// land ends the flight of one entry taken.
func (q *outboxQueue) land() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.taken--
	if q.freed != nil && q.roomLocked() {
		close(q.freed)
		q.freed = nil
	}
	if q.taken == 0 && q.drained != nil {
		close(q.drained)
		q.drained = nil
	}
}

// stop takes nothing more from the outbox, gives back the entries taken
// and not yet published, and returns a channel closed once the rest have
// landed.
func (q *outboxQueue) stop() <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.stopping = true
	for _, e := range q.entries {
		q.u.box.Release(e.ID)
	}
	q.taken -= len(q.entries)
	q.entries = nil
	done := make(chan struct{})
	if q.taken == 0 {
		close(done)
	} else {
		q.drained = done
	}
	return done
}

// settle ends an entry's flight by its PUBACK, or by its absence.
func (q *outboxQueue) settle(e outbox.Entry, cp packets.ControlPacket) {
	defer q.land()
	ack, ok := cp.Content.(*packets.Puback)
	switch {
	case !ok: // the session ended first (shutdown, or the broker lost it)
		q.u.box.Release(e.ID)
	case ack.ReasonCode < 0x80:
		q.u.box.Ack(e.ID)
		if published := q.u.cfg.OnPublished; published != nil {
			published(e.Lane, max(time.Since(e.AppendedAt), 0))
		}
	case permanent(ack.ReasonCode):
		reason := "broker refused the publish: " + ack.Reason()
		if ack.Properties != nil && ack.Properties.ReasonString != "" {
			reason += ": " + ack.Properties.ReasonString
		}
		if err := q.u.box.Quarantine(e.ID, reason); err != nil {
			q.u.lines.Error("quarantine failed", "mqtt: quarantine", "id", e.ID, "err", err)
		}
		q.u.lines.Error("refused "+ack.Reason(), "mqtt: publish refused for good; record quarantined", "topic", e.Topic, "reasonCode", ack.ReasonCode)
	default:
		q.u.box.Release(e.ID)
	}
}

// queueEntry is one outbox entry as autopaho's queue sees it.
type queueEntry struct {
	q *outboxQueue
	e outbox.Entry
}

// Reader returns the entry as a serialized PUBLISH packet, in a buffer
// the next entry reuses: autopaho's one goroutine reads each in full
// before it asks for the next.
func (qe *queueEntry) Reader() (io.Reader, error) {
	b := &qe.q.buf
	b.Reset()
	if _, err := qe.q.u.packet(qe.e).WriteTo(b); err != nil {
		return nil, err
	}
	return b, nil
}

// Remove: the PUBLISH is in the session, and its PUBACK settles the entry;
// unless the session never saw it (paho refused its arguments), then it
// is quarantined: it can never be sent.
func (qe *queueEntry) Remove() error {
	if !qe.q.sess.claimed() {
		return qe.quarantine("paho refused to publish the record (invalid arguments)")
	}
	return nil
}

// Leave puts the entry back first in line: it was not sent.
func (qe *queueEntry) Leave() error {
	q := qe.q
	q.sess.expect(nil)
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.stopping {
		q.u.box.Release(qe.e.ID)
		q.taken--
		return nil
	}
	q.entries = append([]outbox.Entry{qe.e}, q.entries...)
	return nil
}

// Quarantine: the packet could not be built; set the record aside.
func (qe *queueEntry) Quarantine() error {
	return qe.quarantine("record does not make a valid MQTT PUBLISH")
}

func (qe *queueEntry) quarantine(reason string) error {
	qe.q.sess.expect(nil)
	defer qe.q.land()
	return qe.q.u.box.Quarantine(qe.e.ID, reason)
}

// packet builds the PUBLISH of an entry: QoS 1, its topic, payload and
// retain flag; headers become user properties, but for the ones that
// name MQTT properties; Expiry becomes the Message Expiry Interval.
func (u *Uplink) packet(e outbox.Entry) *packets.Publish {
	p := &packets.Publish{QoS: 1, Topic: e.Topic, Payload: e.Payload, Retain: e.Retain, Properties: &packets.Properties{}}
	for _, h := range e.Headers {
		switch h.Key {
		case HeaderCorrelationData:
			p.Properties.CorrelationData = h.Value
		case HeaderContentType:
			p.Properties.ContentType = string(h.Value)
		default:
			p.Properties.User = append(p.Properties.User, packets.User{Key: h.Key, Value: string(h.Value)})
		}
	}
	if !e.Expiry.IsZero() {
		secs := uint32(max(time.Until(e.Expiry)/time.Second, 1))
		p.Properties.MessageExpiry = &secs
	}
	return p
}
