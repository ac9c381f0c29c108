package outbox

import bolt "go.etcd.io/bbolt"

// laneCursor reads the live records of one lane in ID order, across its
// segments, passing over the records gone from them. Its methods return
// a record's ID and stored form, or 0 and nil past the last.
type laneCursor struct {
	ss   *segments
	l    Lane
	segs *bolt.Cursor // over the lane's index
	g    *segState    // the segment c is in
	c    *bolt.Cursor // nil past the last segment
}

func (ss *segments) cursor(l Lane) *laneCursor {
	return &laneCursor{ss: ss, l: l, segs: ss.index(l).Cursor()}
}

// First returns the lane's first live record.
func (lc *laneCursor) First() (ID, []byte) {
	k, v := lc.segs.First()
	return lc.enter(keyID(k), v, 0)
}

// Seek returns the first live record at or after id.
func (lc *laneCursor) Seek(id ID) (ID, []byte) {
	first, v := floor(lc.segs, id)
	if first == 0 { // every segment starts above id
		k, fv := lc.segs.First()
		first, v = keyID(k), fv
	}
	return lc.enter(first, v, id)
}

// Next returns the live record after the last returned.
func (lc *laneCursor) Next() (ID, []byte) {
	if lc.c == nil {
		return 0, nil
	}
	k, v := lc.c.Next()
	if id, v := lc.skip(k, v); id != 0 {
		return id, v
	}
	nk, nv := lc.segs.Next()
	return lc.enter(keyID(nk), nv, 0)
}

// Last returns the ID of the lane's last live record, or 0.
func (lc *laneCursor) Last() ID {
	for k, sv := lc.segs.Last(); k != nil; k, sv = lc.segs.Prev() {
		b := lc.ss.bucket(lc.l, keyID(k))
		if b == nil {
			continue
		}
		g := lc.ss.state(lc.l, keyID(k), sv)
		c := b.Cursor()
		for rk, _ := c.Last(); rk != nil; rk, _ = c.Prev() {
			if !g.gone(idOf(rk)) {
				return idOf(rk)
			}
		}
	}
	return 0
}

// enter returns the first live record at or after id in segment first,
// whose stored state is sv, or in the segments after it.
func (lc *laneCursor) enter(first ID, sv []byte, id ID) (ID, []byte) {
	for first != 0 {
		if b := lc.ss.bucket(lc.l, first); b != nil {
			lc.g = lc.ss.state(lc.l, first, sv)
			lc.c = b.Cursor()
			rk, rv := lc.c.Seek(idKey(max(id, first)))
			if id, v := lc.skip(rk, rv); id != 0 {
				return id, v
			}
		}
		k, v := lc.segs.Next()
		first, sv = keyID(k), v
	}
	lc.c = nil
	return 0, nil
}

// skip returns the first live record of the segment from key k on.
func (lc *laneCursor) skip(k, v []byte) (ID, []byte) {
	for k != nil {
		id := idOf(k)
		i, gone := lc.g.rangeOf(id)
		if !gone {
			return id, v
		}
		k, v = lc.c.Seek(idKey(lc.g.acked[i].hi + 1))
	}
	return 0, nil
}
