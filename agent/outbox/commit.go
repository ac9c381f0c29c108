package outbox

import (
	"encoding/binary"
	"errors"
	"maps"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// txState is what a commit works on: copies of the store's state, put back
// only if the transaction commits.
type txState struct {
	segs        *segments // the lanes' records
	lanes       [numLanes]laneState
	memoBytes   int64      // of every memo, after the transaction
	memosNew    []uint64   // memoHash of the memos put
	memosGone   []uint64   // and of those replaced or deleted
	dropped     DropCounts // increments
	quarantined int        // increment
}

// commitPlan is one commit's work, taken from the store's state under its
// lock: the batch of appends, the acks and quarantines due, the topics to
// name, and the state the transaction starts from.
type commitPlan struct {
	batch   []*appendReq
	inBatch map[ID]bool
	maxID   ID

	before []pendingDelete // acks of records committed earlier
	after  []pendingDelete // acks of the batch's own records
	// gone are the IDs of after: records acked before their commit,
	// not written at all.
	gone        map[ID]bool
	quarantines []pendingQuarantine
	topics      map[uint64]string

	countersDirty bool
	floors        map[string]ID // the uplinks' floors that rose, to commit
	busy          map[ID]bool   // the records in flight, when eviction may run
	startLanes    [numLanes]laneState
	base          counters // the drop counts before
	qBase         int      // the quarantined count before
	db            *bolt.DB

	// The outcome of the transaction's last run.
	st            txState
	results       []error // per append of batch
	skipTelemetry bool    // set for a retry short of room
	skipped       int     // appends skipped by it
}

// commit runs one write transaction for batch and the pending work, then
// answers every append in batch. It returns how many appends were queued
// just before it answered.
//
// The records of batch were handed to Next when they were appended
// (stage): sending them overlaps this commit, and their acks may come
// before it. Acks and quarantines of records not committed yet wait for
// the commit that writes them; those of this batch's records are applied
// after the batch is written. Should the commit fail, or refuse an append
// for room, those records leave flight and their Appends fail; an uplink
// may have sent them all the same, which at-least-once allows. IDs are
// never given out again, so no late Ack can hit another record.
//
// When the disk is full, commit refuses telemetry and retries the rest in
// the reserve's room (see room.go).
func (s *Store) commit(batch []*appendReq) int {
	s.probeRoom()
	batch = s.refuseForRoom(batch)
	p := s.plan(batch)
	if p == nil {
		return len(s.reqs)
	}
	err := s.transact(p)
	s.apply(p, err)
	queued := len(s.reqs)
	for i, req := range p.batch {
		req.done <- p.results[i]
	}
	return queued
}

// plan takes the commit's work from the store's state, or returns nil
// when there is nothing to write: no empty commit. Counters alone wait,
// while the store is short of room, for a commit with other work.
func (s *Store) plan(batch []*appendReq) *commitPlan {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := &commitPlan{batch: batch, inBatch: make(map[ID]bool), results: make([]error, len(batch))}
	p.floors = s.riseLocked()
	if s.sweep {
		s.sweepLocked()
	}
	var need int64
	for _, req := range batch {
		for _, r := range req.recs {
			p.inBatch[r.id] = true
			p.maxID = max(p.maxID, r.id)
		}
		need += req.bytes()
	}
	// Work on records still to be committed by a later commit waits; the
	// rest is this transaction's, and Stats counts it as leaving until
	// the transaction is over.
	var carry []pendingDelete
	for _, d := range s.pendingDeletes {
		switch {
		case p.inBatch[d.id]:
			p.after = append(p.after, d)
			if p.gone == nil {
				p.gone = make(map[ID]bool)
			}
			p.gone[d.id] = true
		case s.stagedLocked(d.lane, d.id):
			carry = append(carry, d)
		default:
			p.before = append(p.before, d)
		}
	}
	var carryQ []pendingQuarantine
	for _, q := range s.pendingQuarantine {
		if !p.inBatch[q.id] && s.stagedLocked(q.lane, q.id) {
			carryQ = append(carryQ, q)
		} else {
			p.quarantines = append(p.quarantines, q)
		}
	}
	p.topics = maps.Clone(s.pendingTopics)
	p.countersDirty = s.countersDirty
	if len(batch)+len(p.before)+len(p.after)+len(p.quarantines)+len(p.topics)+len(p.floors) == 0 && (!p.countersDirty || s.room.short != nil) {
		return nil
	}
	s.pendingDeletes, s.pendingQuarantine = carry, carryQ
	s.txDeletes, s.txQuarantine = append(p.before, p.after...), p.quarantines
	s.countersDirty = false
	// Eviction must skip entries in flight; the copy is taken only when
	// this batch may pass the cap, not on every commit.
	if s.lanes[0].bytes+s.lanes[1].bytes+need > int64(s.cfg.MaxBytes) {
		p.busy = make(map[ID]bool)
		for _, v := range s.views {
			for id := range v.inFlight {
				p.busy[id] = true
			}
		}
	}
	p.startLanes = s.lanes
	p.base, p.qBase = s.counters, s.quarantined
	p.db = s.db
	return p
}

// transact runs p's transaction. Short of room, what the batch holds
// besides telemetry is written again at once, in the reserve's room, when
// the reserve was released just now or there was telemetry to leave out.
func (s *Store) transact(p *commitPlan) error {
	write := func(tx *bolt.Tx) error { return s.write(tx, p) }
	err := p.db.Update(write)
	if !isNoSpace(err) {
		return err
	}
	wasShort := s.room.short != nil
	err = s.outOfRoom(err)
	rest := hasControl(p.batch) || len(p.before)+len(p.after)+len(p.quarantines) > 0
	telemetry := slices.ContainsFunc(p.batch, func(req *appendReq) bool { return !req.control })
	if rest && (!wasShort || telemetry) {
		p.skipTelemetry = true
		if err = p.db.Update(write); isNoSpace(err) {
			err = s.outOfRoom(err)
		}
	}
	return err
}

// write is p's transaction: the topics named, the acks of records
// committed earlier, the appends (cursors, records and memos), the acks
// of the batch's own records, the quarantines, then the meta values that
// changed. It may run twice (transact): it starts from p's state each
// time.
func (s *Store) write(tx *bolt.Tx, p *commitPlan) error {
	p.st, p.skipped = txState{segs: newSegments(tx), lanes: p.startLanes}, 0
	clear(p.results)
	topicsB := tx.Bucket(topicsBucket)
	for id, name := range p.topics {
		if err := topicsB.Put(binary.BigEndian.AppendUint64(nil, id), encodeTopic(name)); err != nil {
			return err
		}
	}
	if err := deleteRecords(&p.st, p.before); err != nil {
		return err
	}
	memos, err := s.writeBatch(tx, p)
	if err != nil {
		return err
	}
	if err := deleteRecords(&p.st, p.after); err != nil {
		return err
	}
	for _, q := range p.quarantines {
		if err := s.quarantineRecord(tx, &p.st, q); err != nil {
			return err
		}
	}
	if memos {
		if err := s.pruneMemos(tx, &p.st); err != nil {
			return err
		}
	}
	if err := p.st.segs.flush(); err != nil {
		return err
	}
	return writeMeta(tx.Bucket(metaBucket), p)
}

// writeBatch writes the appends of p's batch, each one's refusal in
// p.results, and reports whether a memo was put.
func (s *Store) writeBatch(tx *bolt.Tx, p *commitPlan) (memos bool, err error) {
	for i, req := range p.batch {
		if req.cursor != nil {
			ok, err := applyCursor(tx, req.cursor)
			if err != nil {
				return false, err
			}
			if !ok {
				p.results[i] = errTooManyCursors
			}
			continue
		}
		if p.skipTelemetry && !req.control {
			p.results[i] = s.room.short
			p.st.dropped.Refused += uint64(len(req.recs))
			p.skipped++
			continue
		}
		ok, err := s.appendReq(&p.st, p.busy, p.gone, req)
		if err != nil {
			return false, err
		}
		if !ok {
			p.results[i] = ErrFull
			p.st.dropped.Refused += uint64(len(req.recs))
			continue
		}
		if req.memo != nil {
			if err := s.putMemo(tx, &p.st, req.memo); err != nil {
				return false, err
			}
			memos = true
		}
	}
	return memos, nil
}

// writeMeta puts the meta values p's transaction changed: each put is a
// write to the page.
func writeMeta(meta *bolt.Bucket, p *commitPlan) error {
	p.st.memoBytes = int64(getUint64(meta, keyMemoBytes))
	for l := range Lane(numLanes) {
		if p.st.lanes[l].count == p.startLanes[l].count && p.st.lanes[l].bytes == p.startLanes[l].bytes {
			continue
		}
		if err := putUint64(meta, laneCountKey(l), uint64(p.st.lanes[l].count)); err != nil {
			return err
		}
		if err := putUint64(meta, laneBytesKey(l), uint64(p.st.lanes[l].bytes)); err != nil {
			return err
		}
	}
	if p.countersDirty || p.st.dropped != (DropCounts{}) {
		if err := writeCounters(meta, addCounts(p.base, p.st.dropped)); err != nil {
			return err
		}
	}
	if p.maxID > ID(meta.Sequence()) {
		if err := meta.SetSequence(uint64(p.maxID)); err != nil {
			return err
		}
	}
	for name, floor := range p.floors {
		if err := putUint64(meta, floorKey(name), uint64(floor)); err != nil {
			return err
		}
	}
	if p.st.quarantined == 0 {
		return nil
	}
	return putUint64(meta, keyQuarantined, uint64(p.qBase+p.st.quarantined))
}

// apply puts the outcome of p's transaction, err, back into the store's
// state: the batch's records leave the staged ones (and flight, when not
// written); on success the transaction's state becomes the store's, on
// failure the acks and quarantines wait for the next commit and every
// append of the batch fails with err.
func (s *Store) apply(p *commitPlan, err error) {
	s.mu.Lock()
	for l := range s.pending {
		s.pending[l] = slices.DeleteFunc(s.pending[l], func(r stagedRecord) bool { return p.inBatch[r.id] })
	}
	for i, req := range p.batch {
		if err != nil || p.results[i] != nil {
			for _, r := range req.recs {
				for _, v := range s.views {
					s.landLocked(v, r.id)
				}
			}
		}
	}
	if err != nil {
		s.pendingDeletes = append(s.txDeletes, s.pendingDeletes...)
		s.pendingQuarantine = append(s.txQuarantine, s.pendingQuarantine...)
		s.countersDirty = true
		if errors.Is(err, ErrNoSpace) { // logged by outOfRoom
			for _, req := range p.batch {
				s.counters.dropped.Refused += uint64(len(req.recs))
			}
		} else {
			s.lines.Error("commit failed", "outbox: commit failed", "err", err)
		}
		for i := range p.results {
			p.results[i] = err
		}
	} else {
		for l := range s.lanes {
			s.lanes[l].count, s.lanes[l].bytes = p.st.lanes[l].count, p.st.lanes[l].bytes
		}
		for _, req := range p.batch { // a record refused or acked before is counted too: lastPut is a bound
			for _, r := range req.recs {
				s.lanes[r.lane].lastPut = max(s.lanes[r.lane].lastPut, r.id)
			}
		}
		s.counters.dropped = addDrops(s.counters.dropped, p.st.dropped)
		s.quarantined += p.st.quarantined
		s.memoBytes = p.st.memoBytes
		for _, h := range p.st.memosNew {
			s.memoKeys[h]++
		}
		for _, h := range p.st.memosGone {
			if s.memoKeys[h]--; s.memoKeys[h] <= 0 {
				delete(s.memoKeys, h)
			}
		}
		for id := range p.topics {
			delete(s.pendingTopics, id)
		}
		s.committedLocked(p)
		s.commits++
	}
	s.txDeletes, s.txQuarantine = nil, nil
	s.mu.Unlock()
	if err == nil {
		for range p.skipped {
			s.refusedForRoom()
		}
	}
}
