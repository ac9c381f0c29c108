package outbox

import (
	"cmp"
	"encoding/binary"
	"errors"
	"maps"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// writer is the store's only writing goroutine. It gathers every append
// (and cursor write) waiting, and the acks, expiries and quarantines
// pending, into one transaction: concurrent appends share a commit (group
// commit) without a fixed delay, because requests queue while the previous
// commit syncs.
// With FlushInterval, work without a control record waits up to that long
// for company.
func (s *Store) writer() {
	defer close(s.done)
	answered, queued := 0, 0 // by the previous commit; queued before it answered
	for {
		var batch []*appendReq
		select {
		case req := <-s.reqs:
			batch = append(batch, req)
		case <-s.wake:
		case <-s.stop:
			s.finish()
			return
		}
		batch = s.gather(batch)
		switch {
		case s.cfg.FlushInterval > 0 && !hasControl(batch):
			batch = s.linger(batch)
		case len(batch) == 0:
			batch = s.awaitAppend()
		}
		if answered > 1 && len(batch) > 0 {
			batch = s.regroup(batch, queued+answered)
		}
		s.yieldToConsumer(batch)
		queued = s.commit(batch)
		answered = len(batch)
		s.maybeCompact()
	}
}

// regroup goes on gathering appends, for at most groupWindow, until batch
// holds want of them. The appenders a commit has just answered are about
// to append again; waiting for them lets them share the next commit,
// rather than two halves of them alternating, each commit half as full.
// The wait is short next to an fsync (a millisecond on a fast disk, tens
// on an SD card).
func (s *Store) regroup(batch []*appendReq, want int) []*appendReq {
	if len(batch) >= want {
		return batch
	}
	timer := time.NewTimer(groupWindow)
	defer timer.Stop()
	for len(batch) < want {
		select {
		case req := <-s.reqs:
			batch = append(batch, req)
		case <-timer.C:
			return batch
		case <-s.stop:
			return s.gather(batch)
		}
	}
	return batch
}

// yieldToConsumer waits, up to yieldWait, until the control records of
// batch that a consumer was waiting for (an RPC's answer, say) are handed
// out. Their commit would compete for the CPU with sending them, on a
// gateway's one or two cores; the commit can wait that long, the
// consumer is quick. Telemetry does not wait: its appenders, many at
// once, count on commits coming back to back.
func (s *Store) yieldToConsumer(batch []*appendReq) {
	var timer *time.Timer
	for {
		s.mu.Lock()
		waiting := false
		for _, req := range batch {
			for _, r := range req.recs {
				if _, out := s.inFlight[r.id]; req.awaited && r.lane == LaneControl && !out && s.stagedLocked(r.lane, r.id) {
					waiting = true
				}
			}
		}
		handedOut := s.handedOut
		s.mu.Unlock()
		if !waiting {
			return
		}
		if timer == nil {
			timer = time.NewTimer(yieldWait)
			defer timer.Stop()
		}
		select {
		case <-handedOut:
		case <-timer.C:
			return
		case <-s.stop:
			return
		}
	}
}

// yieldWait bounds yieldToConsumer.
const yieldWait = 500 * time.Microsecond

// groupWindow bounds regroup.
const groupWindow = time.Millisecond

// gather adds every append already queued to batch.
func (s *Store) gather(batch []*appendReq) []*appendReq {
	for {
		select {
		case req := <-s.reqs:
			batch = append(batch, req)
		default:
			return batch
		}
	}
}

// linger waits up to FlushInterval for more work, or until a control
// record arrives, so a trickle of telemetry shares commits.
func (s *Store) linger(batch []*appendReq) []*appendReq {
	timer := time.NewTimer(s.cfg.FlushInterval)
	defer timer.Stop()
	for {
		select {
		case req := <-s.reqs:
			batch = append(batch, req)
			if req.control {
				return s.gather(batch)
			}
		case <-timer.C:
			return s.gather(batch)
		case <-s.stop:
			return s.gather(batch)
		}
	}
}

// awaitAppend delays a commit that would only delete acked records (or
// move quarantined ones) by up to ackDelay, so that it rides with the next
// appends instead of splitting their group: acks need not be durable at
// once, a crash only hands their entries out again.
func (s *Store) awaitAppend() []*appendReq {
	timer := time.NewTimer(ackDelay)
	defer timer.Stop()
	select {
	case req := <-s.reqs:
		return s.gather([]*appendReq{req})
	case <-timer.C:
	case <-s.stop:
	}
	return s.gather(nil)
}

// ackDelay is how long acks may wait for appends to share their commit.
const ackDelay = 10 * time.Millisecond

// finish commits what is left when the store closes.
func (s *Store) finish() {
	s.commit(s.gather(nil))
}

func hasControl(batch []*appendReq) bool {
	for _, r := range batch {
		if r.control {
			return true
		}
	}
	return false
}

// txState is what a commit works on: copies of the store's state, put back
// only if the transaction commits.
type txState struct {
	lanes       [numLanes]laneState
	memoBytes   int64      // of every memo, after the transaction
	memosNew    []uint64   // memoHash of the memos put
	memosGone   []uint64   // and of those replaced or deleted
	dropped     DropCounts // increments
	quarantined int        // increment
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
	s.mu.Lock()
	inBatch := make(map[ID]bool)
	maxID := ID(0)
	for _, req := range batch {
		for _, r := range req.recs {
			inBatch[r.id] = true
			maxID = max(maxID, r.id)
		}
	}
	// Work on records still to be committed by a later commit waits; the
	// rest is this transaction's, and Stats counts it as leaving until
	// the transaction is over.
	var before, after []pendingDelete
	var carry []pendingDelete
	for _, d := range s.pendingDeletes {
		switch {
		case inBatch[d.id]:
			after = append(after, d)
		case s.stagedLocked(d.lane, d.id):
			carry = append(carry, d)
		default:
			before = append(before, d)
		}
	}
	var quarantines, carryQ []pendingQuarantine
	for _, q := range s.pendingQuarantine {
		if !inBatch[q.id] && s.stagedLocked(q.lane, q.id) {
			carryQ = append(carryQ, q)
		} else {
			quarantines = append(quarantines, q)
		}
	}
	topics := maps.Clone(s.pendingTopics)
	countersDirty := s.countersDirty
	// Nothing to write: no empty commit. Counters alone wait, while the
	// store is short of room, for a commit with other work.
	if len(batch)+len(before)+len(after)+len(quarantines)+len(topics) == 0 && (!countersDirty || s.room.short != nil) {
		s.mu.Unlock()
		return len(s.reqs)
	}
	s.pendingDeletes, s.pendingQuarantine = carry, carryQ
	s.txDeletes, s.txQuarantine = append(before, after...), quarantines
	s.countersDirty = false
	// Eviction must skip entries in flight; the copy is taken only when
	// this batch may pass the cap, not on every commit.
	var need int64
	for _, req := range batch {
		need += req.bytes()
	}
	var busy map[ID]Lane
	if s.lanes[0].bytes+s.lanes[1].bytes+need > s.cfg.MaxBytes {
		busy = maps.Clone(s.inFlight)
	}
	startLanes := s.lanes
	var st txState // of the last run of write
	base, qBase := s.counters, s.quarantined
	db := s.db
	s.mu.Unlock()

	results := make([]error, len(batch))
	skipTelemetry := false // set for a retry short of room
	skipped := 0           // appends skipped by it
	write := func(tx *bolt.Tx) error {
		st, skipped = txState{lanes: startLanes}, 0
		for i := range results {
			results[i] = nil
		}
		meta := tx.Bucket(metaBucket)
		topicsB := tx.Bucket(topicsBucket)
		for id, name := range topics {
			if err := topicsB.Put(binary.BigEndian.AppendUint64(nil, id), encodeTopic(name)); err != nil {
				return err
			}
		}
		if err := deleteRecords(tx, &st, before); err != nil {
			return err
		}
		memos := false
		for i, req := range batch {
			if req.cursor != nil {
				ok, err := applyCursor(tx, req.cursor)
				if err != nil {
					return err
				}
				if !ok {
					results[i] = errTooManyCursors
				}
				continue
			}
			if skipTelemetry && !req.control {
				results[i] = s.room.short
				st.dropped.Refused += uint64(len(req.recs))
				skipped++
				continue
			}
			ok, err := s.appendReq(tx, &st, busy, req)
			if err != nil {
				return err
			}
			if !ok {
				results[i] = ErrFull
				st.dropped.Refused += uint64(len(req.recs))
				continue
			}
			if req.memo != nil {
				if err := s.putMemo(tx, &st, req.memo); err != nil {
					return err
				}
				memos = true
			}
		}
		if err := deleteRecords(tx, &st, after); err != nil {
			return err
		}
		for _, q := range quarantines {
			if err := s.quarantineRecord(tx, &st, q); err != nil {
				return err
			}
		}
		if memos {
			if err := s.pruneMemos(tx, &st); err != nil {
				return err
			}
		}
		st.memoBytes = int64(getUint64(meta, keyMemoBytes))
		// The meta values that changed: each put is a write to the page.
		for l := range Lane(numLanes) {
			if st.lanes[l].count == startLanes[l].count && st.lanes[l].bytes == startLanes[l].bytes {
				continue
			}
			if err := putUint64(meta, laneCountKey(l), uint64(st.lanes[l].count)); err != nil {
				return err
			}
			if err := putUint64(meta, laneBytesKey(l), uint64(st.lanes[l].bytes)); err != nil {
				return err
			}
		}
		if countersDirty || st.dropped != (DropCounts{}) {
			if err := writeCounters(meta, addCounts(base, st.dropped)); err != nil {
				return err
			}
		}
		if maxID > ID(meta.Sequence()) {
			if err := meta.SetSequence(uint64(maxID)); err != nil {
				return err
			}
		}
		if st.quarantined == 0 {
			return nil
		}
		return putUint64(meta, keyQuarantined, uint64(qBase+st.quarantined))
	}
	err := db.Update(write)
	if isNoSpace(err) {
		// Short of room: what the batch holds besides telemetry is
		// written again at once, in the reserve's room, when the reserve
		// was released just now or there was telemetry to leave out.
		wasShort := s.room.short != nil
		err = s.outOfRoom(err)
		rest := hasControl(batch) || len(before)+len(after)+len(quarantines) > 0
		telemetry := slices.ContainsFunc(batch, func(req *appendReq) bool { return !req.control })
		if rest && (!wasShort || telemetry) {
			skipTelemetry = true
			if err = db.Update(write); isNoSpace(err) {
				err = s.outOfRoom(err)
			}
		}
	}

	s.mu.Lock()
	// The batch's records are in the file now, or not to be.
	for l := range s.pending {
		s.pending[l] = slices.DeleteFunc(s.pending[l], func(p stagedRecord) bool { return inBatch[p.id] })
	}
	for i, req := range batch {
		if err != nil || results[i] != nil {
			for _, r := range req.recs {
				s.landLocked(r.id)
			}
		}
	}
	if err != nil {
		// Nothing was written: the acks and quarantines wait for the next
		// commit, the appends fail.
		s.pendingDeletes = append(s.txDeletes, s.pendingDeletes...)
		s.pendingQuarantine = append(s.txQuarantine, s.pendingQuarantine...)
		s.countersDirty = true
		if errors.Is(err, ErrNoSpace) { // logged by outOfRoom
			for _, req := range batch {
				s.counters.dropped.Refused += uint64(len(req.recs))
			}
		} else {
			s.lines.Error("commit failed", "outbox: commit failed", "err", err)
		}
		for i := range results {
			results[i] = err
		}
	} else {
		for l := range s.lanes {
			s.lanes[l].count, s.lanes[l].bytes = st.lanes[l].count, st.lanes[l].bytes
		}
		s.counters.dropped = addDrops(s.counters.dropped, st.dropped)
		s.quarantined += st.quarantined
		s.memoBytes = st.memoBytes
		for _, h := range st.memosNew {
			s.memoKeys[h]++
		}
		for _, h := range st.memosGone {
			if s.memoKeys[h]--; s.memoKeys[h] <= 0 {
				delete(s.memoKeys, h)
			}
		}
		for id := range topics {
			delete(s.pendingTopics, id)
		}
		s.commits++
	}
	s.txDeletes, s.txQuarantine = nil, nil
	s.mu.Unlock()
	if err == nil {
		for range skipped {
			s.refusedForRoom()
		}
	}
	queued := len(s.reqs)
	for i, req := range batch {
		req.done <- results[i]
	}
	return queued
}

// appendReq stores the records of req, dropping old telemetry to make room
// if needed. It reports false, having stored nothing, when they do not fit.
func (s *Store) appendReq(tx *bolt.Tx, st *txState, busy map[ID]Lane, req *appendReq) (bool, error) {
	need := req.bytes()
	if over := st.lanes[0].bytes + st.lanes[1].bytes + need - s.cfg.MaxBytes; over > 0 {
		if err := s.evict(tx, st, busy, over); err != nil {
			return false, err
		}
		if st.lanes[0].bytes+st.lanes[1].bytes+need > s.cfg.MaxBytes {
			return false, nil
		}
	}
	for _, r := range req.recs {
		b := tx.Bucket(laneBuckets[r.lane])
		b.FillPercent = 1 // keys (almost) only grow: pack the pages
		if err := b.Put(idKey(r.id), r.data); err != nil {
			return false, err
		}
		st.lanes[r.lane].count++
		st.lanes[r.lane].bytes += int64(len(r.data))
	}
	return true, nil
}

// evict drops the oldest telemetry that is not in flight until over bytes
// are free or none is left to drop.
func (s *Store) evict(tx *bolt.Tx, st *txState, busy map[ID]Lane, over int64) error {
	var victims []pendingDelete
	var freed int64
	c := tx.Bucket(laneBuckets[LaneTelemetry]).Cursor()
	for k, v := c.First(); k != nil && freed < over; k, v = c.Next() {
		if _, ok := busy[idOf(k)]; ok {
			continue
		}
		victims = append(victims, pendingDelete{id: idOf(k), lane: LaneTelemetry})
		freed += int64(len(v))
	}
	if err := deleteRecords(tx, st, victims); err != nil {
		return err
	}
	st.dropped.Cap += uint64(len(victims))
	if len(victims) > 0 {
		s.lines.Warn("full", "outbox: full; dropped the oldest telemetry", "records", len(victims), "bytes", freed)
	}
	return nil
}

// stagedLocked reports whether record id of lane l is appended and not
// committed yet. s.mu must be held.
func (s *Store) stagedLocked(l Lane, id ID) bool {
	_, ok := slices.BinarySearchFunc(s.pending[l], id, func(p stagedRecord, id ID) int { return cmp.Compare(p.id, id) })
	return ok
}

// quarantineRecord moves a record to the quarantine bucket with its lane
// and the reason.
func (s *Store) quarantineRecord(tx *bolt.Tx, st *txState, q pendingQuarantine) error {
	k := idKey(q.id)
	v := tx.Bucket(laneBuckets[q.lane]).Get(k)
	if v == nil {
		return nil
	}
	val := []byte{byte(q.lane)}
	val = appendBytes(val, []byte(q.reason))
	val = append(val, v...)
	if err := tx.Bucket(quarantineBucket).Put(k, val); err != nil {
		return err
	}
	st.quarantined++
	s.lines.Warn("quarantined "+q.lane.String(), "outbox: record quarantined", "id", q.id, "lane", q.lane.String(), "reason", q.reason)
	return deleteRecord(tx, st, q.lane, q.id)
}

func addDrops(a, b DropCounts) DropCounts {
	return DropCounts{Cap: a.Cap + b.Cap, Expired: a.Expired + b.Expired, Refused: a.Refused + b.Refused}
}

func addCounts(c counters, d DropCounts) counters {
	return counters{dropped: addDrops(c.dropped, d)}
}
