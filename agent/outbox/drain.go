package outbox

import (
	"cmp"
	"context"
	"fmt"
	"iter"
	"math"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// Next hands out up to max entries that are not in flight, blocking until
// there is at least one or ctx ends. Control entries come first, then
// telemetry; within a lane, entries come in ID order, entries released
// for a retry first. While a telemetry backlog drains, LiveShare of each
// batch's telemetry is taken from records appended since the backlog
// began, so live data keeps flowing.
//
// Entries are handed out as soon as they are appended, while their commit
// is written and synced: an entry may come out of Next, and be acked,
// before its Append has returned.
//
// Handed-out entries are in flight until Ack, Release or Quarantine. An
// entry whose Expiry has passed is dropped and counted instead of handed
// out; one that fails its checksum is quarantined. After a crash or a
// restart nothing is in flight: entries handed out and not acked are
// handed out again (at-least-once).
//
// With more than one uplink (Config.Uplinks) these are the first's; each
// uplink takes its records from its [View].
func (s *Store) Next(ctx context.Context, max int) ([]Entry, error) {
	return s.next(ctx, s.views[0], max)
}

func (s *Store) next(ctx context.Context, v *view, max int) ([]Entry, error) {
	if max <= 0 {
		return nil, fmt.Errorf("outbox: next: max %d must be positive", max)
	}
	for {
		wake := make(chan struct{})
		var b Batch
		err := s.tryNextBatch(v, &b, max, wake)
		if err != nil || len(b.Entries) > 0 {
			return b.Entries, err
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return nil, contextDone("next", ctx)
		}
	}
}

// TryNext is Next without the wait: it hands out up to max entries ready
// now. When there are none and wake is not nil, the store closes wake once
// entries may have become ready (an append, a release, Close), for the
// caller to try again; a consumer with a loop of its own waits so without
// a goroutine in between.
func (s *Store) TryNext(max int, wake chan struct{}) ([]Entry, error) {
	var b Batch // fresh memory: the entries are the caller's to keep
	err := s.TryNextBatch(&b, max, wake)
	return b.Entries, err
}

// Batch is memory for TryNextBatch to hand entries out in, reused from
// call to call: a consumer that drains at a high rate then allocates
// (and collects) next to nothing. The zero Batch is ready for use.
type Batch struct {
	// Entries are the entries the last TryNextBatch handed out.
	Entries []Entry
	// MaxBytes, when positive, bounds a TryNextBatch by size too: it
	// hands out no more entries once those handed out hold MaxBytes
	// bytes as stored (always at least one), so that a batch of large
	// records takes no more memory than one of small ones.
	MaxBytes int
	mem      arena
}

// TryNextBatch is TryNext into b: it replaces b.Entries with the entries
// handed out, none when it returns an error. Their records' bytes and
// headers are in b's memory, which the next TryNextBatch into b
// overwrites: the caller must be done with every entry of b, and with
// everything that shares their memory (Key, Payload, Headers), before it
// calls TryNextBatch with b again.
func (s *Store) TryNextBatch(b *Batch, max int, wake chan struct{}) error {
	return s.tryNextBatch(s.views[0], b, max, wake)
}

func (s *Store) tryNextBatch(v *view, b *Batch, max int, wake chan struct{}) error {
	if max <= 0 {
		return fmt.Errorf("outbox: next: max %d must be positive", max)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b.Entries = b.Entries[:0]
	if s.closed {
		return fmt.Errorf("outbox: next: %w", ErrClosed)
	}
	b.mem.reset()
	if err := s.handOutLocked(v, b, max); err != nil {
		b.Entries = b.Entries[:0]
		return fmt.Errorf("outbox: next: %w", err)
	}
	if len(b.Entries) == 0 && wake != nil {
		s.wakes = append(s.wakes, wake)
	}
	return nil
}

// Ack deletes handed-out entries: the broker has them. The deletion is
// committed with the writer's next transaction; until then a crash hands
// them out again. IDs not in flight are ignored.
func (s *Store) Ack(ids ...ID) { s.ack(s.views[0], ids) }

func (s *Store) ack(v *view, ids []ID) {
	s.mu.Lock()
	for _, id := range ids {
		f, ok := s.landLocked(v, id)
		switch {
		case !ok:
		case f.dup:
			s.duplicates++
		case s.routeOf(f.route) != 0 || len(s.views) == 1:
			s.leaveLocked(id, f.lane, false)
		default:
			s.settleLocked(v, id, f.lane)
		}
		if ok {
			v.acks++
		}
	}
	s.mu.Unlock()
	s.wakeWriter()
}

// Release returns handed-out entries for a retry: Next hands them out
// again, before newer entries of their lane. IDs not in flight are
// ignored.
func (s *Store) Release(ids ...ID) { s.release(s.views[0], ids) }

func (s *Store) release(v *view, ids []ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		if f, ok := s.landLocked(v, id); ok && !f.dup {
			i, _ := slices.BinarySearch(v.released[f.lane], id)
			v.released[f.lane] = slices.Insert(v.released[f.lane], i, id)
		}
	}
	s.notifyLocked()
}

// Quarantine moves a handed-out entry aside for good, with the reason (the
// broker refused it permanently, say as too large), instead of retrying it
// forever. It is counted in Stats.Quarantined and kept in the file.
func (s *Store) Quarantine(id ID, reason string) error { return s.quarantine(s.views[0], id, reason) }

func (s *Store) quarantine(v *view, id ID, reason string) error {
	s.mu.Lock()
	f, ok := s.landLocked(v, id)
	if ok && !f.dup {
		s.quarantineLocked(id, f.lane, reason)
	}
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("outbox: quarantine %d: %w", id, ErrUnknownID)
	}
	s.wakeWriter()
	return nil
}

// handOutLocked picks and reads up to max entries into b. s.mu must be
// held.
func (s *Store) handOutLocked(v *view, b *Batch, max int) error {
	var dropped bool
	staged := s.onlyStagedLocked(v)
	expect := min(max, s.waitingLocked(v, staged))
	if b.Entries == nil {
		b.Entries = make([]Entry, 0, min(expect, 1024))
	}
	b.mem.keys = &s.headerKeys
	read := func(segs *segments) {
		r := reader{s: s, v: v, segs: segs, max: max, expect: expect, maxBytes: b.MaxBytes, out: b.Entries, mem: &b.mem}
		r.lane(LaneControl)
		r.telemetry()
		b.Entries, dropped = r.out, r.dropped
	}
	var err error
	if staged {
		read(nil)
	} else {
		err = s.db.View(func(tx *bolt.Tx) error {
			read(newSegments(tx))
			return nil
		})
	}
	if dropped {
		s.wakeWriter()
	}
	if len(b.Entries) > 0 {
		close(s.handedOut)
		s.handedOut = make(chan struct{})
	}
	return err
}

// onlyStagedLocked reports whether what v may be handed out now is among
// the staged records alone, so that the hand-out needs no read
// transaction: a lone answer or reading, the usual case, is handed out
// before its commit. It holds when, in both lanes, v stands above every
// record in the file (lastPut) and has none released to take again, and
// telemetry drains no backlog.
func (s *Store) onlyStagedLocked(v *view) bool {
	for l := range numLanes {
		ls, last := &v.lanes[l], s.lanes[l].lastPut
		if len(v.released[l]) > 0 || ls.split != 0 || last != 0 && last >= ls.head {
			return false
		}
	}
	return true
}

// waitingLocked is at least how many entries v could be handed out now,
// at least one: the stored and staged records less those in flight to
// it, or, when only staged records can be (onlyStagedLocked), those at
// or above where v stands. It sizes the memory of a hand-out, so that a
// trickle of records, handed out one by one, does not allocate for a
// full window each time: the stored records count those acknowledged
// until their deletion commits.
func (s *Store) waitingLocked(v *view, staged bool) int {
	n := 0
	for l := range numLanes {
		if staged {
			pend := s.pending[l]
			i, _ := slices.BinarySearchFunc(pend, v.lanes[l].head, func(p stagedRecord, id ID) int { return cmp.Compare(p.id, id) })
			n += len(pend) - i
			continue
		}
		n += s.lanes[l].count + len(s.pending[l]) - v.inFlightN[l]
	}
	return max(n, 1)
}

// reader hands out entries within one read transaction, or from the
// staged records alone (onlyStagedLocked).
type reader struct {
	s        *Store
	v        *view     // the uplink it hands out to
	segs     *segments // of the read transaction; nil for the staged records alone
	max      int
	expect   int // how many it will likely hand out, for its memory
	maxBytes int // of out's records as stored; 0 for no bound
	bytes    int // of out's records as stored
	out      []Entry
	mem      *arena // of out's records
	dropped  bool   // expired or corrupt records were found
}

// room is how many more entries the reader may hand out.
func (r *reader) room() int {
	if r.maxBytes > 0 && r.bytes >= r.maxBytes {
		return 0
	}
	return r.max - len(r.out)
}

// lane hands out released entries, then entries from head on.
func (r *reader) lane(l Lane) {
	r.released(l)
	ls := &r.v.lanes[l]
	ls.head = r.scan(l, ls.head, 0, r.room())
}

// telemetry hands out telemetry, giving live records their share while a
// backlog drains.
func (r *reader) telemetry() {
	r.released(LaneTelemetry)
	ls := &r.v.lanes[LaneTelemetry]
	n := r.room()
	if n <= 0 {
		return
	}
	pending := r.s.lanes[LaneTelemetry].count + len(r.s.pending[LaneTelemetry]) - r.v.inFlightN[LaneTelemetry]
	share := r.s.cfg.LiveShare
	if ls.split == 0 && pending > n && share > 0 {
		// A backlog: what is stored now is old; what comes later is live.
		ls.split = r.lastID(LaneTelemetry)
		ls.liveNext = ls.split + 1
	}
	if ls.split == 0 {
		ls.head = r.scan(LaneTelemetry, ls.head, 0, n)
		return
	}
	live := int(math.Ceil(float64(n) * share))
	ls.liveNext = r.scan(LaneTelemetry, ls.liveNext, 0, live)
	ls.head = r.scan(LaneTelemetry, ls.head, ls.split, r.room())
	if r.room() > 0 {
		ls.liveNext = r.scan(LaneTelemetry, ls.liveNext, 0, r.room())
	}
	if r.exhausted(LaneTelemetry, ls.head, ls.split) {
		// The backlog is out: one cursor again.
		ls.head, ls.split, ls.liveNext = ls.liveNext, 0, 0
	}
}

// released hands out the released entries of lane l.
func (r *reader) released(l Lane) {
	ids := r.v.released[l]
	n := 0
	for ; n < len(ids) && r.room() > 0; n++ {
		if v := r.get(l, ids[n]); v != nil && r.mine(ids[n], v) {
			r.take(l, ids[n], v)
		}
	}
	r.v.released[l] = ids[n:]
}

// scan hands out up to n entries of lane l from ID from on, stopping after
// ID until when until is not 0. It returns the ID to go on from.
func (r *reader) scan(l Lane, from, until ID, n int) ID {
	if n <= 0 {
		return from
	}
	taken := 0
	for id, v := range r.records(l, from) {
		if taken >= n || r.room() <= 0 || until != 0 && id > until {
			break
		}
		from = id + 1
		if _, busy := r.v.inFlight[id]; busy || !r.mine(id, v) {
			continue
		}
		if r.take(l, id, v) {
			taken++
		}
	}
	return from
}

// take hands out the stored record v, or drops it when it has expired or
// is corrupt: the writer deletes or quarantines it with its next commit,
// and the cursors have passed it, so it is not read again. It reports
// whether it was handed out.
func (r *reader) take(l Lane, id ID, v []byte) bool {
	s := r.s
	r.mem.room = max(min(r.room(), r.expect-len(r.out)), 1)
	r.out = append(r.out, Entry{ID: id})
	e := &r.out[len(r.out)-1]
	topicID, err := decodeRecord(v, r.mem, e)
	topic, known := s.topicNames[topicID]
	switch {
	case err != nil || !known:
		reason := "record fails its checksum"
		if err == nil {
			reason = "record's topic name is damaged or missing"
		}
		r.out = r.out[:len(r.out)-1]
		s.quarantineLocked(id, l, reason)
		r.dropped = true
		return false
	case !e.Expiry.IsZero() && s.now().After(e.Expiry):
		r.out = r.out[:len(r.out)-1]
		s.leaveLocked(id, l, true)
		r.dropped = true
		return false
	}
	e.Topic, e.Lane = topic, l
	r.bytes += len(v)
	r.v.inFlight[id] = flight{lane: l, route: e.Route}
	r.v.inFlightN[l]++
	r.v.sent++
	return true
}

// records iterates over the records of lane l from ID from on, in ID
// order: the committed ones merged with those appended and not committed
// yet (a record in both, just committed, comes once).
func (r *reader) records(l Lane, from ID) iter.Seq2[ID, []byte] {
	return func(yield func(ID, []byte) bool) {
		var (
			c *laneCursor
			k ID
			v []byte
		)
		if r.segs != nil {
			c = r.segs.cursor(l)
			k, v = c.Seek(from)
		}
		pend := r.s.pending[l]
		i, _ := slices.BinarySearchFunc(pend, from, func(p stagedRecord, id ID) int { return cmp.Compare(p.id, id) })
		for k != 0 || i < len(pend) {
			var id ID
			var val []byte
			switch {
			case i == len(pend) || k != 0 && k <= pend[i].id:
				id, val = k, v
				if i < len(pend) && pend[i].id == id {
					i++
				}
				k, v = c.Next()
			default:
				id, val = pend[i].id, pend[i].data
				i++
			}
			if !yield(id, val) {
				return
			}
		}
	}
}

// get returns the record id of lane l, or nil.
func (r *reader) get(l Lane, id ID) []byte {
	if r.segs != nil {
		if v := r.segs.get(l, id); v != nil {
			return v
		}
	}
	recs := r.s.pending[l]
	if i, ok := slices.BinarySearchFunc(recs, id, func(rec stagedRecord, id ID) int { return cmp.Compare(rec.id, id) }); ok {
		return recs[i].data
	}
	return nil
}

// lastID is the highest ID of lane l, or 0. Without the file it takes
// lastPut for the file's: IDs between its last record and lastPut were
// deleted and are never given again, so either bounds the same records.
func (r *reader) lastID(l Lane) ID {
	last := ID(0)
	if recs := r.s.pending[l]; len(recs) > 0 {
		last = recs[len(recs)-1].id
	}
	if r.segs == nil {
		return max(last, r.s.lanes[l].lastPut)
	}
	return max(last, r.segs.cursor(l).Last())
}

// exhausted reports whether no entry of lane l is left in [head, until].
func (r *reader) exhausted(l Lane, head, until ID) bool {
	for id := range r.records(l, head) {
		return id > until
	}
	return true
}

// mine reports whether the reader's view hands out the stored record v,
// of ID id: one of its route, not deleted yet, not one it has already.
func (r *reader) mine(id ID, v []byte) bool {
	if len(r.s.views) == 1 {
		return true
	}
	route := r.s.routeOf(storedRoute(v))
	if !r.s.serves(r.v, route) {
		return false
	}
	if _, gone := r.s.leaving[id]; gone {
		return false
	}
	return route != 0 || !r.v.has(id)
}

// landLocked takes id out of v's flight. s.mu must be held.
func (s *Store) landLocked(v *view, id ID) (flight, bool) {
	f, ok := v.inFlight[id]
	if ok {
		delete(v.inFlight, id)
		v.inFlightN[f.lane]--
	}
	return f, ok
}

// quarantineLocked queues record id for quarantine, for every view. s.mu
// must be held.
func (s *Store) quarantineLocked(id ID, l Lane, reason string) {
	s.pendingQuarantine = append(s.pendingQuarantine, pendingQuarantine{id: id, lane: l, reason: reason})
	if len(s.views) > 1 {
		s.leaving[id] = struct{}{}
	}
}

// inFlightLocked reports whether any view has id in flight. s.mu must be
// held.
func (s *Store) inFlightLocked(id ID) bool {
	for _, v := range s.views {
		if _, ok := v.inFlight[id]; ok {
			return true
		}
	}
	return false
}
