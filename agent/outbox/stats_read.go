package outbox

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// statsRead is what Stats read of the file after a commit: until the
// next, what it read holds (the writer's commits are the only writes
// while the store runs, and compaction opens another file).
// getDeviceState asks for Stats on every call, and the reads (a read
// transaction, a stat of the file, a cursor per lane, the first record's
// checksum) cost more than the rest of Stats.
type statsRead struct {
	db       *bolt.DB
	commits  uint64 // s.commits when it read
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
	read := &s.statsRead
	if read.db != s.db || read.commits != s.commits {
		fresh := statsRead{db: s.db, commits: s.commits, fileSize: s.fileSize()}
		err := s.db.View(func(tx *bolt.Tx) error {
			s.readOldest(tx, &fresh)
			return nil
		})
		if err != nil {
			st.FileSize, st.Err = fresh.fileSize, fmt.Errorf("outbox: stats: %w", err)
			return st
		}
		*read = fresh
	}
	st.FileSize = read.fileSize
	for l := range Lane(numLanes) {
		ls := lanes[l]
		// Records appended and not committed yet count: Next may have
		// handed them out, and their acks may be leaving.
		ls.Depth, ls.Bytes = s.lanes[l].count+len(s.pending[l])-s.leavingLocked(l), s.lanes[l].bytes
		for _, r := range s.pending[l] {
			ls.Bytes += int64(len(r.data))
		}
		if at := read.oldest[l]; !at.IsZero() {
			ls.OldestAge = max(now.Sub(at), 0)
		}
	}
	return st
}

// readOldest reads each lane's oldest record's time into read, as tx
// sees the file.
func (s *Store) readOldest(tx *bolt.Tx, read *statsRead) {
	for l := range Lane(numLanes) {
		if _, v := newSegments(tx).cursor(l).First(); v != nil {
			var e Entry
			if _, err := decodeRecord(v, nil, &e); err == nil {
				read.oldest[l] = e.AppendedAt
			}
		}
	}
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
