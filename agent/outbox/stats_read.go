package outbox

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

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
		FileSize:    s.fileSize(),
		Commits:     s.commits,
		Compactions: s.compactions,
	}
	now := s.now()
	lanes := [numLanes]*LaneStats{&st.Control, &st.Telemetry}
	if s.closed {
		st.Err = fmt.Errorf("outbox: stats: %w", ErrClosed)
		return st
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		for l := range Lane(numLanes) {
			ls := lanes[l]
			// Records appended and not committed yet count: Next may
			// have handed them out, and their acks may be leaving.
			ls.Depth, ls.Bytes = s.lanes[l].count+len(s.pending[l])-s.leavingLocked(l), s.lanes[l].bytes
			for _, r := range s.pending[l] {
				ls.Bytes += int64(len(r.data))
			}
			if _, v := newSegments(tx).cursor(l).First(); v != nil {
				var e Entry
				if _, err := decodeRecord(v, nil, &e); err == nil {
					ls.OldestAge = max(now.Sub(e.AppendedAt), 0)
				}
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
