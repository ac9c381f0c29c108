package mqtt

import (
	"bytes"
	"context"
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
// single writer: paho writes a packet in several Write calls, which
// concurrent publishes interleave on a TLS connection.
//
// outboxQueue is that queue, fed by the outbox: a filler takes up to
// Window entries from Next. ackSession is paho's in-memory session state
// with one addition: it learns the PUBACK of each entry's PUBLISH and
// settles the entry in the outbox (Ack, Quarantine or Release). In-flight
// publishes stay in the session across reconnects and are sent again by
// paho, as MQTT wants.

// outboxQueue implements queue.Queue over the outbox.
type outboxQueue struct {
	u     *Uplink
	sess  *ackSession
	slots chan struct{} // one per entry taken from the outbox, until settled
	buf   bytes.Buffer  // the packet Reader returns

	mu      sync.Mutex
	entries []outbox.Entry // taken, not yet published
	ready   chan struct{}  // closed while entries is not empty
}

var _ queue.Queue = (*outboxQueue)(nil)

func newOutboxQueue(u *Uplink, sess *ackSession) *outboxQueue {
	return &outboxQueue{u: u, sess: sess, slots: make(chan struct{}, u.cfg.Window), ready: make(chan struct{})}
}

// fill takes entries from the outbox while there is room in the window,
// until ctx ends. While most of the window is in flight, it waits for an
// eighth of it to come free before it asks the outbox again: one read of
// the outbox per PUBACK costs more than the wait, which more PUBACKs on
// their way keep short. With little in flight, one free slot will do, so
// a lone record leaves at once.
func (q *outboxQueue) fill(ctx context.Context) {
	for {
		need := 1
		if len(q.slots) >= cap(q.slots)/2 {
			need = max(1, cap(q.slots)/8)
		}
		n := 0
		for n < need {
			select {
			case q.slots <- struct{}{}:
				n++
			case <-ctx.Done():
				for range n {
					<-q.slots
				}
				return
			}
		}
	more:
		for n < cap(q.slots) {
			select {
			case q.slots <- struct{}{}:
				n++
			default:
				break more
			}
		}
		entries, err := q.u.box.Next(ctx, n)
		for range n - len(entries) {
			<-q.slots
		}
		if err != nil {
			if ctx.Err() == nil {
				q.u.log.Error("mqtt: outbox", "err", err)
			}
			return
		}
		q.mu.Lock()
		if len(q.entries) == 0 {
			close(q.ready)
		}
		q.entries = append(q.entries, entries...)
		q.mu.Unlock()
	}
}

// Wait returns a channel closed when an entry is ready.
func (q *outboxQueue) Wait() chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.ready
}

// Enqueue is not used: records enter through the outbox.
func (q *outboxQueue) Enqueue(io.Reader) error {
	return errors.New("mqtt: publish through the outbox, not the queue")
}

// Peek returns the next entry as a queue entry, and tells the session
// that the next PUBLISH it stores is that entry's.
func (q *outboxQueue) Peek() (queue.Entry, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.entries) == 0 {
		q.u.flush() // nothing more to write for now: send the batch
		return nil, queue.ErrEmpty
	}
	e := q.entries[0]
	q.entries = q.entries[1:]
	if len(q.entries) == 0 {
		q.ready = make(chan struct{})
	}
	q.sess.expect(func(cp packets.ControlPacket) { q.settle(e, cp) })
	return &queueEntry{q: q, e: e}, nil
}

// settle ends an entry's flight by its PUBACK, or by its absence.
func (q *outboxQueue) settle(e outbox.Entry, cp packets.ControlPacket) {
	defer func() { <-q.slots }()
	q.u.addInFlight(-1)
	ack, ok := cp.Content.(*packets.Puback)
	switch {
	case !ok: // the session ended first (shutdown, or the broker lost it)
		q.u.box.Release(e.ID)
	case ack.ReasonCode < 0x80:
		q.u.box.Ack(e.ID)
	case permanent(ack.ReasonCode):
		reason := "broker refused the publish: " + ack.Reason()
		if ack.Properties != nil && ack.Properties.ReasonString != "" {
			reason += ": " + ack.Properties.ReasonString
		}
		if err := q.u.box.Quarantine(e.ID, reason); err != nil {
			q.u.log.Error("mqtt: quarantine", "id", e.ID, "err", err)
		}
		q.u.log.Error("mqtt: publish refused for good; record quarantined", "topic", e.Topic, "reasonCode", ack.ReasonCode)
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
	qe.q.u.addInFlight(1)
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
	q.u.addInFlight(-1)
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.entries) == 0 {
		close(q.ready)
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
	qe.q.u.addInFlight(-1)
	defer func() { <-qe.q.slots }()
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
