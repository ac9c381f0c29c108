package outbox

import (
	"cmp"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// deleteRecords takes the records of ds that are still there out of the
// lanes, counting the expired ones as dropped: their segments mark them
// gone (see segments).
func deleteRecords(st *txState, ds []pendingDelete) error {
	if len(ds) == 0 {
		return nil
	}
	// Lowest ID first, lane by lane: see remover. ds is sorted in a copy,
	// as Stats reads the transaction's deletes meanwhile.
	sorted := slices.Clone(ds)
	slices.SortFunc(sorted, func(a, b pendingDelete) int {
		return cmp.Or(cmp.Compare(a.lane, b.lane), cmp.Compare(a.id, b.id))
	})
	var r remover
	for i, pd := range sorted {
		if i == 0 || pd.lane != sorted[i-1].lane {
			r = st.segs.remover(pd.lane)
		}
		r.remove(st, pd.id)
		if pd.expired {
			st.dropped.Expired++
		}
	}
	return nil
}

// deleteRecord takes a record out of its lane if it is still there.
func deleteRecord(st *txState, l Lane, id ID) {
	r := st.segs.remover(l)
	r.remove(st, id)
}

// remover marks records of one lane gone, given in ascending ID order.
// A drain acks records in runs of neighbours, so the record to mark is
// most often the next in its segment: the cursor steps on to it, where
// a seek would search the segment's tree from its root. The segment's
// records are not written, only its state (segments.flush), so the
// cursor stays valid.
type remover struct {
	ss   *segments
	l    Lane
	segs *bolt.Cursor // over the lane's index
	g    *segState    // the segment the cursor is in
	next ID           // the next segment's first ID, 0 for none
	c    *bolt.Cursor // in g
	k, v []byte       // where c is; k nil when it must seek
}

func (ss *segments) remover(l Lane) remover {
	return remover{ss: ss, l: l, segs: ss.index(l).Cursor()}
}

// maxSteps bounds how far a remover steps on before it seeks.
const maxSteps = 4

// remove marks record id gone if it is there and not gone already.
func (r *remover) remove(st *txState, id ID) {
	if r.g == nil || id < r.g.first || r.next != 0 && id >= r.next {
		first, sv := floor(r.segs, id)
		var b *bolt.Bucket
		if first != 0 {
			b = r.ss.bucket(r.l, first)
		}
		if b == nil {
			r.g = nil
			return // below every segment: gone
		}
		r.g = r.ss.state(r.l, first, sv)
		nk, _ := r.segs.Next()
		r.next = keyID(nk)
		r.c, r.k, r.v = b.Cursor(), nil, nil
	}
	if r.g.gone(id) {
		return
	}
	for range maxSteps {
		if r.k == nil || idOf(r.k) >= id {
			break
		}
		r.k, r.v = r.c.Next()
	}
	if r.k == nil || idOf(r.k) != id {
		r.k, r.v = r.c.Seek(idKey(id))
	}
	if r.k == nil || idOf(r.k) != id {
		return // not there
	}
	g := r.g
	g.leave(id)
	g.live--
	g.liveSize -= int64(len(r.v))
	g.dirty = true
	st.lanes[r.l].count--
	st.lanes[r.l].bytes -= int64(len(r.v))
}
