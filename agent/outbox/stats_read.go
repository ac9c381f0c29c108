package outbox

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// statsRead is what Stats read of the file as one transaction left it:
// until the next commits, what it read holds. getDeviceState asks for
// Stats on every call, and the reads (a stat of the file, a cursor per
// lane, the first record's checksum) cost more than the rest of Stats.
type statsRead struct {
	db       *bolt.DB // compaction opens another
	txID     int      // the last transaction committed when it read
	fileSize int64
	oldest   [numLanes]time.Time // each lane's oldest record's AppendedAt; zero for none
}

// Stats returns a snapshot of the store.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{
		InFlight:    s.inFlightCountLocked(),
		Dropped:     s.counters.dropped,
		Quarantined: s.quarantined,
		Duplicates:  s.duplicates,
		Salvaged:    s.salvaged,
		Commits:     s.commits,
		Compactions: s.compactions,
	}
	now := s.now()
	lanes := [numLanes]*LaneStats{&st.Control, &st.Telemetry}
	if s.closed {
		st.FileSize = s.fileSize()
		st.Err = fmt.Errorf("outbox: stats: %w", ErrClosed)
		return st
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		read := &s.statsRead
		if read.db != s.db || read.txID != tx.ID() {
			*read = s.readForStats(tx)
		}
		st.FileSize = read.fileSize
		for l := range Lane(numLanes) {
			ls := lanes[l]
			// Records appended and not committed yet count: Next may
			// have handed them out, and their acks may be leaving.
			ls.Depth, ls.Bytes = s.lanes[l].count+len(s.pending[l])-s.leavingLocked(l), s.lanes[l].bytes
			for _, r := range s.pending[l] {
				ls.Bytes += int64(len(r.data))
			}
			if at := read.oldest[l]; !at.IsZero() {
				ls.OldestAge = max(now.Sub(at), 0)
			}
		}
		return nil
	})
	if err != nil {
		st.Control, st.Telemetry = LaneStats{}, LaneStats{}
		st.Err = fmt.Errorf("outbox: stats: %w", err)
	}
	return st
}

// readForStats reads what Stats reports of the file as tx sees it.
func (s *Store) readForStats(tx *bolt.Tx) statsRead {
	read := statsRead{db: s.db, txID: tx.ID(), fileSize: s.fileSize()}
	for l := range Lane(numLanes) {
		if _, v := newSegments(tx).cursor(l).First(); v != nil {
			var e Entry
			if _, err := decodeRecord(v, nil, &e); err == nil {
				read.oldest[l] = e.AppendedAt
			}
		}
	}
	return read
}

// leavingLocked counts the records of lane l that are acked, expired or
// quarantined but not yet removed by a commit. s.mu must be held.
func (s *Store) leavingLocked(l Lane) int {
	n := 0
	for _, ds := range [][]pendingDelete{s.pendingDeletes, s.txDeletes} {
		for _, d := range ds {
			if d.lane == l {
				n++
			}
		}
	}
	for _, qs := range [][]pendingQuarantine{s.pendingQuarantine, s.txQuarantine} {
		for _, q := range qs {
			if q.lane == l {
				n++
			}
		}
	}
	return n
}
