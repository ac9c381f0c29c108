package mqtt

import (
	"slices"
	"sync"
	"time"

	"github.com/eclipse/paho.golang/packets"

	"github.com/iot-hub/agent/agent/outbox"
)

// Publishing is QoS 1 with a window of publishes awaiting their PUBACK,
// in outbox order, by one writer of PUBLISHes (publisher.go): records of
// a lane must arrive in order.
//
// outboxQueue is the line of publications between the outbox and that
// writer: next takes entries from the outbox (TryNext) within the window,
// and wait gives the writer a channel that the outbox closes when entries
// come, or that a PUBACK closes when the window was full: no goroutine in
// between. ackSession is paho's in-memory session state with one
// addition: it learns the PUBACK of each publication and has the queue
// settle its entry in the outbox (Ack, Quarantine or Release). In-flight
// publishes stay in the session across reconnects and are sent again by
// paho, as MQTT wants.
//
// An entry is one PUBLISH, or two with ProtocolDual (its v1 and legacy
// forms, legacy.go): each is a publication, which takes a slot of the
// window, and the entry is settled once both have their outcome
// (fanout).

// outboxQueue is the line of publications taken from the outbox.
type outboxQueue struct {
	u      *Uplink
	window int

	mu       sync.Mutex
	taken    int           // publications of entries taken from the outbox, not landed
	entries  []publication // taken, not yet published
	spare    []publication // entries's memory from its start, for when it is empty
	freed    chan struct{} // closed when the window has room again
	wake     chan struct{} // closed by the outbox when it may have entries
	drained  chan struct{} // closed when nothing is taken any more
	stopping bool          // take nothing more
}

func newOutboxQueue(u *Uplink) *outboxQueue {
	return &outboxQueue{u: u, window: u.cfg.Window}
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
	room := q.window - q.taken
	if q.u.cfg.Protocol == ProtocolDual {
		room = max(1, room/2) // an entry may be two publications
	}
	entries, err := q.u.box.TryNext(room, wake)
	if err != nil {
		q.u.log.Error("mqtt: outbox", "err", err)
		return
	}
	if len(entries) == 0 {
		q.wake = wake
	}
	n := len(q.entries)
	if n == 0 {
		q.entries = q.spare[:0] // next moved its start on
	}
	q.entries = slices.Grow(q.entries, len(entries)) // one publication each, but in dual
	if n == 0 {
		q.spare = q.entries[:0]
	}
	for _, e := range entries {
		q.entries = q.u.publications(q.entries, e)
	}
	q.taken += len(q.entries) - n
}

// wait returns a channel closed when there may be a publication to
// write: at once if there is one; when the window has room again if it is
// full; else when the outbox has entries. It is never closed once the
// uplink is stopping.
func (q *outboxQueue) wait() <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.stopping && len(q.entries) == 0 && q.roomLocked() {
		q.takeLocked()
	}
	switch {
	case q.stopping:
		return nil // never: the uplink is stopping
	case len(q.entries) > 0:
		return closed
	case !q.roomLocked():
		q.freed = make(chan struct{})
		return q.freed
	case q.wake != nil:
		return q.wake
	default: // the outbox failed; it is closing
		return nil
	}
}

// closed is a closed channel.
var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// next returns the next publication to write, taking entries from the
// outbox when it has none; ok is false when there is none.
func (q *outboxQueue) next() (p publication, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.entries) == 0 {
		q.takeLocked()
	}
	if len(q.entries) == 0 {
		return publication{}, false
	}
	p = q.entries[0]
	q.entries[0] = publication{} // its record's memory goes with p
	q.entries = q.entries[1:]
	return p, true
}

// putBack puts p, which next returned and was not written, first in line
// again; or, when the uplink is stopping, releases its entry.
func (q *outboxQueue) putBack(p publication) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.stopping {
		q.conclude(p, outcome{kind: unanswered})
		q.landLocked()
		return
	}
	q.entries = append([]publication{p}, q.entries...)
}

// quarantine sets p's entry aside: it can never be published.
func (q *outboxQueue) quarantine(p publication, reason string) {
	defer q.land()
	q.conclude(p, outcome{kind: refused, reason: reason})
}

// land ends the flight of one publication.
func (q *outboxQueue) land() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.landLocked()
}

func (q *outboxQueue) landLocked() {
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
	for _, p := range q.entries {
		q.conclude(p, outcome{kind: unanswered})
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

// settleAll ends the flights of publications by their responses: their
// entries are settled in the outbox together (one Ack for all those
// acknowledged), then their window slots freed.
func (q *outboxQueue) settleAll(rs []response) {
	var s settlement
	for _, r := range rs {
		s.add(q, r.p, q.outcomeOf(r))
	}
	s.apply(q)
	q.mu.Lock()
	defer q.mu.Unlock()
	for range rs {
		q.landLocked()
	}
}

// outcomeOf returns what became of a publication by its response,
// logging a refusal.
func (q *outboxQueue) outcomeOf(r response) outcome {
	switch {
	case !r.answered:
		return outcome{kind: unanswered}
	case r.reason < 0x80:
		return outcome{kind: acked}
	case permanent(r.reason):
		ack := packets.Puback{ReasonCode: r.reason}
		reason := "broker refused the publish: " + ack.Reason()
		if r.reasonString != "" {
			reason += ": " + r.reasonString
		}
		q.u.lines.Error("refused "+ack.Reason(), "mqtt: publish refused for good; record quarantined", "topic", r.p.Topic, "reasonCode", r.reason)
		return outcome{kind: refused, reason: reason}
	}
	return outcome{kind: unanswered}
}

// conclude settles p's entry in the outbox by o, the outcome of its
// publication or, when the entry has more than one, by the worst of
// theirs once each has one.
func (q *outboxQueue) conclude(p publication, o outcome) {
	var s settlement
	s.add(q, &p, o)
	s.apply(q)
}

// settlement gathers the outcomes of entries to settle them in the
// outbox together.
type settlement struct {
	acked    []*publication
	released []outbox.ID
}

// add records o, the outcome of publication p, or, when p's entry has
// more than one, the worst of theirs once each has one. An entry refused
// is quarantined at once.
func (s *settlement) add(q *outboxQueue, p *publication, o outcome) {
	if p.fanout != nil {
		var all bool
		if o, all = p.fanout.add(o); !all {
			return
		}
	}
	switch o.kind {
	case acked:
		s.acked = append(s.acked, p)
	case unanswered:
		s.released = append(s.released, p.ID)
	case refused:
		if err := q.u.box.Quarantine(p.ID, o.reason); err != nil {
			q.u.lines.Error("quarantine failed", "mqtt: quarantine", "id", p.ID, "err", err)
		}
	}
}

// apply settles the entries in the outbox, and tells OnPublished of
// those acknowledged.
func (s *settlement) apply(q *outboxQueue) {
	if len(s.acked) > 0 {
		ids := make([]outbox.ID, len(s.acked))
		for i, p := range s.acked {
			ids[i] = p.ID
		}
		q.u.box.Ack(ids...)
		if published := q.u.cfg.OnPublished; published != nil {
			now := time.Now()
			for _, p := range s.acked {
				published(p.Lane, max(now.Sub(p.AppendedAt), 0))
			}
		}
	}
	if len(s.released) > 0 {
		q.u.box.Release(s.released...)
	}
}

// publication is one PUBLISH of an outbox entry: the entry with the
// topic, payload, headers and retain flag it is published with (its
// legacy form, legacy.go, or itself) and, when the entry is published
// more than once, the fanout that settles it.
type publication struct {
	outbox.Entry
	fanout *fanout
}

// fanout is an entry published more than once (ProtocolDual). It is
// settled in the outbox once every publication of it has its outcome, by
// the worst of them: acked only when each was acknowledged; released
// when one was not answered (the entry is published again, in every
// form); quarantined when the broker refused one for good.
type fanout struct {
	mu    sync.Mutex
	left  int // publications without an outcome
	worst outcome
}

// add records the outcome of one publication and, once each has one,
// returns the entry's.
func (f *fanout) add(o outcome) (worst outcome, all bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if o.kind > f.worst.kind {
		f.worst = o
	}
	f.left--
	return f.worst, f.left == 0
}

// outcome is what became of one publication.
type outcome struct {
	kind   outcomeKind
	reason string // why it was refused, for the quarantine
}

// outcomeKind orders the outcomes, the worst last.
type outcomeKind int

const (
	acked      outcomeKind = iota // the broker acknowledged it
	unanswered                    // it was not (the connection went): release the entry
	refused                       // the broker refused it for good: quarantine the entry
)
