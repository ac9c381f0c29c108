package outbox

import (
	"cmp"
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
				if req.awaited && r.lane == LaneControl && !s.inFlightLocked(r.id) && s.stagedLocked(r.lane, r.id) {
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
const ackDelay = 100 * time.Millisecond

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

// appendReq stores the records of req, dropping old telemetry to make room
// if needed, but for those in gone, acked already: their acks find them
// gone (and count those expired). It reports false, having stored
// nothing, when they do not fit.
func (s *Store) appendReq(st *txState, busy, gone map[ID]bool, req *appendReq) (bool, error) {
	need := req.bytes()
	if over := st.lanes[0].bytes + st.lanes[1].bytes + need - int64(s.cfg.MaxBytes); over > 0 {
		if err := s.evict(st, busy, over); err != nil {
			return false, err
		}
		if st.lanes[0].bytes+st.lanes[1].bytes+need > int64(s.cfg.MaxBytes) {
			return false, nil
		}
	}
	for _, r := range req.recs {
		if gone[r.id] {
			continue
		}
		if err := st.segs.put(r.lane, r.id, r.data); err != nil {
			return false, err
		}
		st.lanes[r.lane].count++
		st.lanes[r.lane].bytes += int64(len(r.data))
	}
	return true, nil
}

// evict drops the oldest telemetry that is not in flight until over bytes
// are free or none is left to drop.
func (s *Store) evict(st *txState, busy map[ID]bool, over int64) error {
	var victims []pendingDelete
	var freed int64
	c := st.segs.cursor(LaneTelemetry)
	for id, v := c.First(); id != 0 && freed < over; id, v = c.Next() {
		if _, ok := busy[id]; ok {
			continue
		}
		victims = append(victims, pendingDelete{id: id, lane: LaneTelemetry})
		freed += int64(len(v))
	}
	if err := deleteRecords(st, victims); err != nil {
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
	v := st.segs.get(q.lane, q.id)
	if v == nil {
		return nil
	}
	val := []byte{byte(q.lane)}
	val = appendBytes(val, []byte(q.reason))
	val = append(val, v...)
	if err := tx.Bucket(quarantineBucket).Put(idKey(q.id), val); err != nil {
		return err
	}
	st.quarantined++
	s.lines.Warn("quarantined "+q.lane.String(), "outbox: record quarantined", "id", q.id, "lane", q.lane.String(), "reason", q.reason)
	deleteRecord(st, q.lane, q.id)
	return nil
}

func addDrops(a, b DropCounts) DropCounts {
	return DropCounts{Cap: a.Cap + b.Cap, Expired: a.Expired + b.Expired, Refused: a.Refused + b.Refused}
}

func addCounts(c counters, d DropCounts) counters {
	return counters{dropped: addDrops(c.dropped, d)}
}
