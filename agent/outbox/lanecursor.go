package outbox

import bolt "go.etcd.io/bbolt"

// laneCursor reads the live records of one lane in ID order, across its
// segments, passing over the records gone from them. Its methods return
// a record's ID and stored form, or 0 and nil past the last.
type laneCursor struct {
	ss   *segments
	l    Lane
	lb   *bolt.Bucket
	segs *bolt.Cursor // over the lane's segments
	g    *segState    // the segment c is in
	c    *bolt.Cursor // nil past the last segment
}

func (ss *segments) cursor(l Lane) *laneCursor {
	lb := ss.lane(l)
	return &laneCursor{ss: ss, l: l, lb: lb, segs: lb.Cursor()}
}

// First returns the lane's first live record.
func (lc *laneCursor) First() (ID, []byte) {
	return lc.enter(firstSegment(lc.segs), 0)
}

// Seek returns the first live record at or after id.
func (lc *laneCursor) Seek(id ID) (ID, []byte) {
	k := floor(lc.segs, id)
	if k == nil { // every segment starts above id
		k = firstSegment(lc.segs)
	}
	return lc.enter(k, id)
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
	return lc.enter(nextSegment(lc.segs), 0)
}

// Last returns the ID of the lane's last live record, or 0.
func (lc *laneCursor) Last() ID {
	for k := lastSegment(lc.segs); k != nil; k, _ = lc.segs.Prev() {
		b := lc.lb.Bucket(k)
		if b == nil || !isSegment(k) {
			continue
		}
		g := lc.ss.state(lc.l, idOf(k), b)
		c := b.Cursor()
		for rk, _ := c.Last(); len(rk) == 8; rk, _ = c.Prev() {
			if !g.gone(idOf(rk)) {
				return idOf(rk)
			}
		}
	}
	return 0
}

// enter returns the first live record at or after id in segment k, or in
// the segments after it.
func (lc *laneCursor) enter(k []byte, id ID) (ID, []byte) {
	for ; k != nil; k = nextSegment(lc.segs) {
		b := lc.lb.Bucket(k)
		if b == nil {
			continue
		}
		lc.g = lc.ss.state(lc.l, idOf(k), b)
		lc.c = b.Cursor()
		rk, rv := lc.c.Seek(idKey(max(id, idOf(k))))
		if id, v := lc.skip(rk, rv); id != 0 {
			return id, v
		}
	}
	lc.c = nil
	return 0, nil
}

// skip returns the first live record of the segment from key k on.
func (lc *laneCursor) skip(k, v []byte) (ID, []byte) {
	for k != nil {
		if len(k) != 8 {
			k, v = lc.c.Next()
			continue
		}
		id := idOf(k)
		i, gone := lc.g.rangeOf(id)
		if !gone {
			return id, v
		}
		k, v = lc.c.Seek(idKey(lc.g.acked[i].hi + 1))
	}
	return 0, nil
}
