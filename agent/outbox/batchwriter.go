package outbox

import (
	"slices"

	bolt "go.etcd.io/bbolt"
)

// batchWriter writes a new file, for a salvage or a compaction, in
// transactions of about batch bytes each. The first error stops it, and
// is kept in err.
type batchWriter struct {
	db      *bolt.DB
	batch   int
	tx      *bolt.Tx
	segs    *segments // of tx
	batched int
	err     error
}

// begin starts a transaction unless one is open; it reports false after
// an error.
func (w *batchWriter) begin() bool {
	if w.err != nil {
		return false
	}
	if w.tx == nil {
		if w.tx, w.err = w.db.Begin(true); w.err != nil {
			return false
		}
		w.segs = newSegments(w.tx)
	}
	return true
}

// put writes k and v in bucket, unless k is there already (a page read
// twice); it reports whether it wrote.
func (w *batchWriter) put(bucket, k, v []byte) bool {
	if !w.begin() {
		return false
	}
	b, err := w.tx.CreateBucketIfNotExists(bucket)
	if err != nil {
		w.err = err
		return false
	}
	if b.Get(k) != nil {
		return false
	}
	b.FillPercent = 1 // keys come (mostly) in order: pack the pages
	if w.err = b.Put(slices.Clone(k), slices.Clone(v)); w.err != nil {
		return false
	}
	w.wrote(len(k) + len(v))
	return true
}

// putRecord writes record id of lane l, unless it is there already; it
// reports whether it wrote.
func (w *batchWriter) putRecord(l Lane, id ID, v []byte) bool {
	if !w.begin() {
		return false
	}
	if _, err := w.tx.CreateBucketIfNotExists(indexBuckets[l]); err != nil {
		w.err = err
		return false
	}
	if w.segs.get(l, id) != nil {
		return false
	}
	if w.err = w.segs.put(l, id, slices.Clone(v)); w.err != nil {
		return false
	}
	w.wrote(8 + len(v))
	return true
}

func (w *batchWriter) wrote(n int) {
	if w.batched += n; w.batched >= w.batch {
		w.commit()
	}
}

// commit commits the transaction open, or rolls it back after an error.
func (w *batchWriter) commit() {
	if w.tx != nil && w.err == nil {
		if w.err = w.segs.flush(); w.err == nil {
			w.err = w.tx.Commit()
		} else {
			w.tx.Rollback()
		}
	} else if w.tx != nil {
		w.tx.Rollback()
	}
	w.tx, w.segs, w.batched = nil, nil, 0
}
