package outbox

import (
	"bytes"
	"cmp"
	"fmt"
	"os"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/iot-hub/agent/internal/atomicfile"
)

// compactSuffix names the temporary file of a compaction.
const compactSuffix = ".compact"

// compactRetryInterval is how long the store waits after a compaction
// failed before it tries again.
const compactRetryInterval = time.Minute

// maybeCompact gives space back: bbolt never shrinks its file, so once
// the queue has drained, down to records of no more than an eighth of
// CompactMinBytes, a file larger than CompactMinBytes and four times its
// live data (records waiting, memos and cursors) is copied into a new file
// that replaces it; the copy takes every bucket. Records may be in flight
// meanwhile: their IDs stay, and their acks delete them from the copy.
// Waiting for none to be (a queue wholly empty) would put compaction off
// for good under steady traffic, where the newest records are always on
// their way. The copy takes the lanes' live records only, into new
// segments: what is gone from a segment still in use is left behind.
// Only the writer calls it; it holds s.mu throughout, so
// nothing reads the file meanwhile.
func (s *Store) maybeCompact() {
	s.mu.Lock()
	defer s.mu.Unlock()
	queued := s.lanes[LaneControl].bytes + s.lanes[LaneTelemetry].bytes
	// Not while writes wait (appends, cursors): the copy would stall them,
	// and what they add is live data the copy cannot count yet. Nor while
	// the disk is full: the copy needs room, and the reserve's is for
	// control records.
	if s.closed || queued > s.cfg.CompactMinBytes/8 || len(s.reqs) > 0 || s.room.short != nil {
		return
	}
	// Nor again soon after a copy failed: the next commit would try it
	// again, on a disk with no room for it, say, and log it again.
	now := s.now()
	if since := now.Sub(s.compactFailed); since >= 0 && since < compactRetryInterval {
		return
	}
	// Memos stay when the queue drains: they are live data too, or every
	// drained commit would copy them all over again.
	live := queued + s.memoBytes
	size := s.fileSize()
	if size <= s.cfg.CompactMinBytes || size <= 4*live {
		return
	}
	// Cursors are live data too, as memos are; few and small, they are
	// read only when the file is large enough to compact.
	if live += s.cursorBytesLocked(); size <= 4*live {
		return
	}
	if err := s.compactLocked(); err != nil {
		s.compactFailed = now
		s.log.Error("outbox: compaction failed; the file keeps its size, tried again in a minute", "err", err)
		return
	}
	s.compactions++
	s.log.Info("outbox: compacted", "from", size, "to", s.fileSize())
}

// compactLocked copies the file into path.compact, renames it over the
// file and reopens it. A crash before the rename leaves the old file
// (Open removes the copy); after it, the new one.
func (s *Store) compactLocked() error {
	tmp := s.path + compactSuffix
	dst, err := bolt.Open(tmp, 0o600, boltOptions())
	if err != nil {
		return err
	}
	if err := copyLive(dst, s.db); err != nil {
		dst.Close()
		os.Remove(tmp)
		return err
	}
	if err := dst.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := s.db.Close(); err != nil {
		return err
	}
	if err := atomicfile.Rename(tmp, s.path); err != nil {
		os.Remove(tmp) // if the rename failed: gone with it otherwise
		return s.reopenLocked(err)
	}
	return s.reopenLocked(nil)
}

// compactBatch is how many bytes a compaction writes per transaction.
const compactBatch = 4 << 20

// copyLive copies src into dst, a new file: the lanes' live records, in
// new segments, and every other bucket as it is, with its sequence.
func copyLive(dst, src *bolt.DB) error {
	w := &batchWriter{db: dst, batch: compactBatch}
	err := src.View(func(tx *bolt.Tx) error {
		ss := newSegments(tx)
		for l := range Lane(numLanes) {
			c := ss.cursor(l)
			for id, v := c.First(); id != 0 && w.err == nil; id, v = c.Next() {
				w.putRecord(l, id, v)
			}
		}
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			_, _, segment := segmentOf(name)
			index := slices.ContainsFunc(indexBuckets[:], func(s []byte) bool { return bytes.Equal(s, name) })
			if segment || index || !w.begin() {
				return w.err
			}
			nb, err := w.tx.CreateBucketIfNotExists(name)
			if err != nil {
				return err
			}
			if err := nb.SetSequence(b.Sequence()); err != nil {
				return err
			}
			return b.ForEach(func(k, v []byte) error {
				if v != nil {
					w.put(name, k, v)
				}
				return w.err
			})
		})
	})
	if err == nil && w.begin() {
		for _, name := range buckets {
			if _, err := w.tx.CreateBucketIfNotExists(name); err != nil {
				w.err = err
			}
		}
	}
	w.commit()
	return cmp.Or(err, w.err)
}

// reopenLocked opens the file again after compaction closed it; cause is
// the compaction's error, if any.
func (s *Store) reopenLocked(cause error) error {
	db, err := bolt.Open(s.path, 0o600, boltOptions())
	if err != nil {
		// The store cannot go on without its file.
		panic(fmt.Sprintf("outbox: reopen %s after compaction: %v (compaction: %v)", s.path, err, cause))
	}
	s.db = db
	return cause
}
