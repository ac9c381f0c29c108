package outbox

import (
	"cmp"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// deleteRecords removes the records of ds that are still there, counting
// the expired ones as dropped.
func deleteRecords(tx *bolt.Tx, st *txState, ds []pendingDelete) error {
	if len(ds) == 0 {
		return nil
	}
	// Highest ID first, lane by lane: see deleter. ds is sorted in a copy,
	// as Stats reads the transaction's deletes meanwhile.
	sorted := slices.Clone(ds)
	slices.SortFunc(sorted, func(a, b pendingDelete) int {
		return cmp.Or(cmp.Compare(a.lane, b.lane), cmp.Compare(b.id, a.id))
	})
	var d deleter
	for i, pd := range sorted {
		if i == 0 || pd.lane != sorted[i-1].lane {
			d = deleter{c: tx.Bucket(laneBuckets[pd.lane]).Cursor()}
		}
		if err := d.delete(st, pd.lane, pd.id); err != nil {
			return err
		}
		if pd.expired {
			st.dropped.Expired++
		}
	}
	return nil
}

// deleteRecord removes a record if it is still there.
func deleteRecord(tx *bolt.Tx, st *txState, l Lane, id ID) error {
	d := deleter{c: tx.Bucket(laneBuckets[l]).Cursor()}
	return d.delete(st, l, id)
}

// deleter removes records of one lane with one cursor, given in
// descending ID order. A drain acks records in runs of neighbours, so
// the record to delete is most often the one before the last deleted:
// the cursor steps back to it, where a seek per record searched the tree
// from its root, the larger part of a drain's deletes.
//
// Stepping back is what stays right after a delete. bbolt's cursor sits
// on a page as it was read, or on the node a write made of it, and a
// delete from a node shifts the records after it: the cursor's next
// record is then the one after the next (etcd-io/bbolt#146). The records
// before it do not move, in either form, so Prev finds the predecessor.
// When the cursor has nothing before it, or is more than a few records
// past the one wanted, it seeks.
type deleter struct {
	c *bolt.Cursor
	k []byte // the key the cursor is on; nil when it must seek
	v []byte
}

// maxSteps bounds how far a deleter steps back before it seeks.
const maxSteps = 4

// delete removes record id of lane l if it is still there.
func (d *deleter) delete(st *txState, l Lane, id ID) error {
	for range maxSteps {
		if d.k == nil || idOf(d.k) <= id {
			break
		}
		d.k, d.v = d.c.Prev()
	}
	if d.k == nil || idOf(d.k) > id {
		d.k, d.v = d.c.Seek(idKey(id))
	}
	if d.k == nil || idOf(d.k) != id {
		return nil // gone already; the cursor is past id, or at its end
	}
	st.lanes[l].count--
	st.lanes[l].bytes -= int64(len(d.v))
	if err := d.c.Delete(); err != nil {
		return err
	}
	d.k, d.v = d.c.Prev()
	return nil
}
