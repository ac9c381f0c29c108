package kafka

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/internal/backoff"
)

// The drain goes in rounds. A round takes up to Window entries from the
// outbox, buffers them all in the franz-go client, which is set to flush
// manually, then flushes and waits for every one's outcome: acknowledged
// (Ack), refused for good (Quarantine), or failed (Release, and the next
// round waits a backoff). While a round is in flight, the next one is
// read from the outbox and made into records, but not buffered.
//
// Rounds keep per-key order across failures. franz-go sends a partition's
// batches in order, retries them itself, and when a batch fails for good
// fails every record buffered behind it in that partition. As a round is
// wholly buffered before any of it is sent, a record that fails has no
// record of its partition after it that succeeds; and as the next round
// is buffered only once this one is settled (its entries released, after
// a failure, with the ones read ahead), the records that failed come out
// of the outbox again, in ID order, before anything newer. Produced
// without rounds, a record could enter a partition's buffer in the
// instant after franz-go failed the ones before it, and overtake them.
//
// The cost is a round trip per round, which Window amortizes.
//
// Reading a round from the outbox costs about as much as producing one,
// so while run drains, a goroutine of its own (readAhead) reads the next
// round while this one is produced: on a gateway's two cores, reading
// and producing each get one. A round read ahead holds its entries in
// flight; a failure releases them, under readMu, so that no read is
// half done and none can slip in between.
//
// A refusal of the record itself (refusesRecord) fails, with it, the other
// records of its partition. So a record so refused is only quarantined
// when it was produced alone: the refused records become suspects, which
// later rounds produce one at a time.

// producer drains the outbox into a franz-go client.
type producer struct {
	u   *Uplink
	cl  *kgo.Client
	box Outbox
	log *slog.Logger

	round    *round        // buffered in the client, not settled; nil when none
	flushed  chan error    // the result of the round's Flush, running; nil when none
	wake     chan struct{} // closed by the outbox when it may have entries
	failures int           // consecutive rounds with a failure
	offline  string        // correlationId of the offline status, once queued
	sentOff  bool          // the offline status is acknowledged

	readMu  sync.Mutex    // held while a round is read and queued in ahead
	ahead   chan *round   // read ahead by readAhead, not buffered; one at most
	free    chan struct{} // a token while ahead has room: readAhead reads only then
	spares  chan *round   // settled rounds whose memory later rounds reuse
	drained atomic.Bool   // the outbox had no entries: rounds are not reused

	suspectsMu sync.Mutex
	suspects   map[outbox.ID]struct{} // refused with their partition; go alone
}

func newProducer(u *Uplink, cl *kgo.Client) *producer {
	p := &producer{
		u: u, cl: cl, box: u.box, log: u.log,
		ahead: make(chan *round, 1), free: make(chan struct{}, 1), spares: make(chan *round, 3),
		suspects: make(map[outbox.ID]struct{}),
	}
	p.free <- struct{}{}
	return p
}

// round is the entries of one round, their records, and their outcomes,
// which franz-go's promises report.
type round struct {
	batch   outbox.Batch   // the memory the outbox hands entries out in
	entries []outbox.Entry // those of batch that make records
	recs    []kgo.Record
	hdrs    []kgo.RecordHeader // the records' headers
	alone   bool               // a suspect, produced alone

	mu   sync.Mutex
	errs []error
	done []bool
	left int
	all  chan struct{} // closed once every outcome is in
}

// promise is franz-go's promise for the round's records: rec is one of
// r.recs, whose index its address gives.
func (r *round) promise(rec *kgo.Record, err error) {
	i := (uintptr(unsafe.Pointer(rec)) - uintptr(unsafe.Pointer(unsafe.SliceData(r.recs)))) / unsafe.Sizeof(kgo.Record{})
	r.finish(int(i), err)
}

// finish records the outcome of entry i.
func (r *round) finish(i int, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done[i] {
		return
	}
	r.done[i], r.errs[i] = true, err
	if r.left--; r.left == 0 {
		close(r.all)
	}
}

// run drains until ctx ends; the round in flight then is left to finish,
// and the ones read ahead are released.
func (p *producer) run(ctx context.Context) {
	readCtx, stopReading := context.WithCancel(ctx)
	reading := make(chan struct{})
	go func() {
		defer close(reading)
		p.readAhead(readCtx)
	}()
	defer func() {
		stopReading()
		<-reading
		p.dropAhead()
	}()
	for {
		var r *round
		select {
		case r = <-p.ahead:
			p.free <- struct{}{}
		case <-ctx.Done():
			return
		}
		p.send(ctx, r)
		if !p.await(ctx) {
			return
		}
		if !p.settle() && !backoff.Sleep(ctx, retryBackoff(p.failures)) {
			return
		}
	}
}

// readAhead reads rounds into ahead, one whenever it has room, until ctx
// ends.
func (p *producer) readAhead(ctx context.Context) {
	for {
		select {
		case <-p.free:
		case <-ctx.Done():
			return
		}
		queued := p.take(ctx, func(r *round) bool {
			if !p.prepare(r) {
				return false
			}
			p.ahead <- r // has room: the token was free
			return true
		})
		if !queued {
			return
		}
	}
}

// finish completes the round in flight and goes on draining, reading
// each round itself, until the offline status is acknowledged, or ctx
// ends. It reports whether the
// offline status, or with none queued the round in flight, went out.
func (p *producer) finish(ctx context.Context) bool {
	if p.round != nil {
		if !p.await(ctx) {
			return false
		}
		p.settle()
	}
	for p.offline != "" && !p.sentOff {
		var r *round
		read := p.take(ctx, func(taken *round) bool {
			r = taken
			return p.prepare(r)
		})
		if !read {
			return false
		}
		p.send(ctx, r)
		if !p.await(ctx) {
			return false
		}
		if !p.settle() && !backoff.Sleep(ctx, retryBackoff(p.failures)) {
			return false
		}
	}
	return true
}

// abandon settles the round in flight once the client is closed, which
// fails every record it had not had acknowledged: those are released.
func (p *producer) abandon() {
	if p.round == nil {
		return
	}
	select {
	case <-p.round.all:
	case <-time.After(time.Second): // the closed client fails them at once; do not hang on it
	}
	p.settle()
}

// take reads the entries ready in the outbox, up to Window, into a
// round, a spare one if there is one, and hands it to keep, which makes
// records of them and reports whether it did (not if all were
// quarantined). It waits for entries, and for a round made, until ctx
// ends. The read and keep run under readMu.
func (p *producer) take(ctx context.Context, keep func(*round) bool) bool {
	var r *round
	select {
	case r = <-p.spares:
	default:
		r = &round{}
	}
	defer func() {
		if r != nil {
			p.reuse(r)
		}
	}()
	for attempt := 1; ; attempt++ {
		if p.wake != nil {
			select {
			case <-p.wake:
			case <-ctx.Done():
				return false
			}
		}
		wake := make(chan struct{})
		p.readMu.Lock()
		r.batch.MaxBytes = RoundBytes
		err := p.box.TryNextBatch(&r.batch, p.u.cfg.Window, wake)
		n := len(r.batch.Entries)
		kept := err == nil && n > 0 && keep(r)
		p.readMu.Unlock()
		switch {
		case err != nil:
			p.log.Error("kafka: outbox", "err", err)
			p.wake = nil
			if !backoff.Sleep(ctx, retryBackoff(attempt)) {
				return false
			}
		case n == 0:
			p.wake = wake
			p.dropSpares()
			if cap(r.batch.Entries) > 0 {
				r = &round{} // and this one's
			}
		default:
			p.wake = nil
			p.drained.Store(false)
			if kept {
				r = nil // keep's now
				return true
			}
		}
	}
}

// prepare makes the records of the entries in r.batch. A suspect goes
// alone: the entries after it, or the suspect itself when it is not
// first, are released for a later round. Entries that cannot make a
// Kafka record are quarantined. It reports false when no entry is left.
func (p *producer) prepare(r *round) bool {
	entries := r.batch.Entries
	p.suspectsMu.Lock()
	defer p.suspectsMu.Unlock()
	room := 0
	for i := range entries {
		room += headerRoom(&entries[i])
	}
	if cap(r.hdrs) < room {
		r.hdrs = make([]kgo.RecordHeader, 0, room)
	}
	// r.entries keeps entries in place: an entry is written over only
	// once it has been read.
	r.entries, r.recs, r.hdrs, r.alone = entries[:0], r.recs[:0], r.hdrs[:0], false
	var rest []outbox.ID
	for i := range entries {
		e := &entries[i]
		_, suspect := p.suspects[e.ID]
		if suspect && len(r.entries) > 0 {
			for _, e := range entries[i:] {
				rest = append(rest, e.ID)
			}
			break
		}
		n := len(r.hdrs)
		rec, added, reason := p.u.record(e, r.hdrs[n:n:n+headerRoom(e)])
		if reason != "" {
			p.quarantine(e, reason)
			continue
		}
		r.hdrs = r.hdrs[:n+len(added)]
		r.entries = append(r.entries, *e)
		r.recs = append(r.recs, rec)
		if suspect {
			r.alone = true
			for _, e := range entries[i+1:] {
				rest = append(rest, e.ID)
			}
			break
		}
	}
	if len(rest) > 0 {
		p.box.Release(rest...)
	}
	return len(r.entries) > 0
}

// dropSpares lets the memory of the spare rounds go, and of those
// settled until the outbox has entries again: it is drained, and rounds
// the size of a backlog's would otherwise stay with the gateway for
// good.
func (p *producer) dropSpares() {
	p.drained.Store(true)
	for {
		select {
		case <-p.spares:
		default:
			return
		}
	}
}

// reuse keeps the memory of a round franz-go is done with for a later
// one.
// None is kept while the outbox is drained: see dropSpares.
func (p *producer) reuse(r *round) {
	if p.drained.Load() {
		return
	}
	select {
	case p.spares <- r:
	default:
	}
}

// send buffers round r in the client and starts flushing it.
func (p *producer) send(ctx context.Context, r *round) {
	p.round = r
	n := len(r.entries)
	r.errs, r.done = slices.Grow(r.errs[:0], n)[:n], slices.Grow(r.done[:0], n)[:n]
	clear(r.errs)
	clear(r.done)
	r.left, r.all = n, make(chan struct{})
	promise := r.promise // one closure a round, not one a record
	for i := range r.recs {
		p.cl.Produce(context.Background(), &r.recs[i], promise)
	}
	p.flush(ctx)
}

// flush starts flushing the client: sending what is buffered and waiting
// for the brokers' answers, or for ctx to end.
func (p *producer) flush(ctx context.Context) {
	done := make(chan error, 1)
	p.flushed = done
	go func() { done <- p.cl.Flush(ctx) }()
}

// await waits for every outcome of the round in flight, or for ctx to end.
func (p *producer) await(ctx context.Context) bool {
	if p.flushed == nil {
		p.flush(ctx)
	}
	err := <-p.flushed // returns when ctx, or the one it started with, ends
	p.flushed = nil
	if err != nil {
		return false
	}
	// Flush returns once every buffered record's promise ran; a record
	// refused before it was buffered has its promise run apart.
	select {
	case <-p.round.all:
		return true
	case <-ctx.Done():
		return false
	}
}

// dropAhead releases the rounds read ahead, then ids: entries of the
// round in flight that failed. Those come out of the outbox again before
// anything newer only if nothing newer is read meanwhile: dropAhead holds
// readMu, so no read is half done while it runs, and none starts before
// every one is released.
func (p *producer) dropAhead(ids ...outbox.ID) {
	p.readMu.Lock()
	defer p.readMu.Unlock()
	for dropped := false; !dropped; {
		select {
		case r := <-p.ahead:
			p.free <- struct{}{}
			p.release(r)
		default:
			dropped = true
		}
	}
	if len(ids) > 0 {
		p.box.Release(ids...)
	}
}

// release releases the entries of a round read ahead and not sent.
func (p *producer) release(r *round) {
	ids := make([]outbox.ID, len(r.entries))
	for i := range r.entries {
		ids[i] = r.entries[i].ID
	}
	p.box.Release(ids...)
	p.reuse(r)
}

// settle acks, quarantines and releases the round's entries by their
// outcomes. When it releases any, it releases the round read ahead too:
// the released ones must go first. It returns false when the next round
// should wait a backoff: a record failed for another reason than a
// refusal of itself.
func (p *producer) settle() (goOn bool) {
	r := p.round
	p.round = nil
	r.mu.Lock()
	acks := make([]outbox.ID, 0, len(r.entries))
	var release []outbox.ID
	var failed int
	var firstErr error
	published, now := p.u.cfg.OnPublished, time.Now()
	for i := range r.entries {
		e := &r.entries[i]
		err := r.errs[i]
		switch {
		case !r.done[i]:
			release = append(release, e.ID)
		case err == nil:
			acks = append(acks, e.ID)
			if published != nil {
				published(e.Lane, max(now.Sub(e.AppendedAt), 0))
			}
			if r.alone {
				p.unsuspect(e.ID)
			}
			if p.offline != "" && isStatus(e, p.offline) {
				p.sentOff = true
			}
		case refusesRecord(err) && r.alone:
			p.unsuspect(e.ID)
			p.quarantine(e, "kafka refused the record: "+err.Error())
		case refusesRecord(err):
			p.suspectsMu.Lock()
			p.suspects[e.ID] = struct{}{}
			p.suspectsMu.Unlock()
			release = append(release, e.ID)
		default:
			release = append(release, e.ID)
			failed++
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	p.box.Ack(acks...)
	if len(release) > 0 {
		p.dropAhead(release...)
	}
	n := len(r.entries)
	if r.left == 0 { // franz-go is done with its records
		r.mu.Unlock()
		p.reuse(r)
	} else {
		r.mu.Unlock()
	}
	if failed == 0 {
		p.failures = 0
		return true
	}
	p.failures++
	p.u.lines.Warn("not produced", "kafka: records not produced; they are retried", "records", failed, "round", n,
		"retryIn", retryBackoff(p.failures).Round(time.Millisecond), "err", firstErr)
	return false
}

// unsuspect forgets a suspect: it went alone.
func (p *producer) unsuspect(id outbox.ID) {
	p.suspectsMu.Lock()
	delete(p.suspects, id)
	p.suspectsMu.Unlock()
}

// quarantine sets an entry aside for good.
func (p *producer) quarantine(e *outbox.Entry, reason string) {
	p.u.lines.Error("quarantined", "kafka: record quarantined", "id", e.ID, "reason", reason, "correlationId", string(header(e, contracts.HeaderCorrelationID)))
	if err := p.box.Quarantine(e.ID, reason); err != nil {
		p.u.lines.Error("quarantine failed", "kafka: quarantine", "id", e.ID, "err", err)
	}
}

// isStatus reports whether e is the status event of correlationId.
func isStatus(e *outbox.Entry, correlationID string) bool {
	return e.Lane == outbox.LaneControl && bytes.Equal(header(e, contracts.HeaderCorrelationID), []byte(correlationID))
}

// header returns the value of e's header key, or nil.
func header(e *outbox.Entry, key string) []byte {
	for _, h := range e.Headers {
		if h.Key == key {
			return h.Value
		}
	}
	return nil
}
