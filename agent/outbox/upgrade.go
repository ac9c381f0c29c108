package outbox

import (
	"log/slog"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// laneBuckets are the lanes' buckets of the releases before segments:
// each record under its ID, straight in its lane's bucket.
var laneBuckets = [numLanes][]byte{[]byte("control"), []byte("telemetry")}

// upgradeBatch bounds the bytes of records one transaction of upgrade
// moves: the file grows by about that much while it runs.
const upgradeBatch = 8 << 20

// upgrade moves the records of a file of an earlier release into
// segments, in transactions of upgradeBatch bytes, oldest first, and
// deletes the old lane buckets once empty. Each transaction moves records
// and deletes them from the old bucket together, so a crash leaves every
// record in one place or the other, and the next Open goes on. The lanes'
// counts in the meta bucket stay right throughout: the records are the
// same.
//
// A file so upgraded, opened by the earlier release again (an update
// rolled back), has lane buckets again, empty: that release sends what
// it appends itself, and the records in segments wait for this one.
func upgrade(db *bolt.DB, log *slog.Logger) error {
	old := false
	_ = db.View(func(tx *bolt.Tx) error {
		old = tx.Bucket(laneBuckets[0]) != nil || tx.Bucket(laneBuckets[1]) != nil
		return nil
	})
	if !old {
		return nil // opening a file writes nothing
	}
	for l := range Lane(numLanes) {
		moved := 0
		for done := false; !done; {
			err := db.Update(func(tx *bolt.Tx) error {
				n, d, err := upgradeStep(tx, l, upgradeBatch)
				moved, done = moved+n, d
				return err
			})
			if err != nil {
				return err
			}
		}
		if moved > 0 {
			log.Info("outbox: upgraded the file's records into segments", "lane", l.String(), "records", moved)
		}
	}
	return nil
}

// upgradeStep moves the oldest records of lane l's old bucket, about
// batch bytes of them, into segments, and deletes them from it, or the
// bucket once it has none left. It returns how many it moved, and
// whether the lane is done.
func upgradeStep(tx *bolt.Tx, l Lane, batch int) (moved int, done bool, err error) {
	old := tx.Bucket(laneBuckets[l])
	if old == nil {
		return 0, true, nil
	}
	ss := newSegments(tx)
	c := old.Cursor()
	var last []byte
	size, exhausted := 0, true
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if size >= batch {
			exhausted = false
			break
		}
		if len(k) == 8 && v != nil {
			if err := ss.put(l, idOf(k), v); err != nil {
				return 0, false, err
			}
			moved++
			size += len(v)
		}
		last = slices.Clone(k)
	}
	if err := ss.flush(); err != nil {
		return 0, false, err
	}
	if exhausted {
		return moved, true, tx.DeleteBucket(laneBuckets[l])
	}
	// Delete what was moved, first key first: after a Delete the cursor
	// is not to be trusted (etcd-io/bbolt#146), so each is found again
	// from the start.
	for k, _ := c.First(); k != nil && string(k) <= string(last); k, _ = c.First() {
		if err := c.Delete(); err != nil {
			return 0, false, err
		}
	}
	return moved, false, nil
}
