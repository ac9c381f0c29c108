package outbox

import (
	"encoding/binary"
	"errors"
	"slices"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Records are kept in segments: a top-level bucket per segment, named
// by its lane and the ID of its first record (segmentName), holding the
// records whose IDs run from that one up to the next segment's first,
// each under its ID. A lane's index bucket (indexBuckets) maps each
// segment's first ID (8 bytes, big-endian) to its state, in ID order.
//
// A record that leaves (acknowledged, expired, dropped for room,
// quarantined) stays in its segment: its ID joins the segment's
// acknowledged ranges, in its state, and the segment goes with one
// DeleteBucket once none of its records is live. Deleting records one by
// one cost a search of the tree and a rewrite of a leaf for each, the
// larger part of a drain's commits.
//
// The segments are top-level buckets, and the states in an index of their
// own, so that a commit writes no page for them beside the root's: a
// bucket holding buckets is never stored inline in its parent's page, so
// segments within a lane's bucket would cost that bucket's page in every
// commit; an index of a few states, as under steady traffic, is inline
// in the root's page.
//
// New records go to the lane's last segment until it holds segMaxRecords
// records or segMaxBytes bytes, or is spent (segState.spent), then to a
// new one. A record whose ID is below the last segment's (appended
// before a record committed earlier) goes to the segment its ID falls in.
var indexBuckets = [numLanes][]byte{[]byte("control.segments"), []byte("telemetry.segments")}

// segmentEnd is where the span of a segment's keys ends, nil for no end:
// the first ID of the next segment of its lane (next, 0 for none), or
// past the highest ID its state says was put (last, 0 when unknown),
// whichever comes first. A key beyond it was damaged.
func segmentEnd(next, last ID) []byte {
	switch {
	case last != 0 && (next == 0 || last < next-1):
		return idKey(last + 1)
	case next != 0:
		return idKey(next)
	}
	return nil
}

// segmentPrefixes start the names of a lane's segments.
var segmentPrefixes = [numLanes][]byte{[]byte("control/"), []byte("telemetry/")}

// segmentName is the name of the bucket of segment first of lane l.
func segmentName(l Lane, first ID) []byte {
	return binary.BigEndian.AppendUint64(slices.Clip(segmentPrefixes[l]), uint64(first))
}

// segmentOf tells the lane and first ID of a segment's bucket by its name.
func segmentOf(name []byte) (Lane, ID, bool) {
	for l, p := range segmentPrefixes {
		if len(name) == len(p)+8 && string(name[:len(p)]) == string(p) {
			return Lane(l), idOf(name[len(p):]), true
		}
	}
	return 0, 0, false
}

// Segment bounds, chosen by measurement (docs/development.md): a drain
// deletes a segment per this many records, and a segment with a record
// still live pins at most this much of the file.
const (
	segMaxRecords = 1024
	segMaxBytes   = 256 << 10
	// segSpentRecords is how many records a segment takes at least
	// before it is spent for most of them being gone.
	segSpentRecords = 16
)

// segments is one transaction's access to the lanes' records: the
// states of the segments it touched, read once and, in a write
// transaction, written back by flush.
type segments struct {
	tx     *bolt.Tx
	states map[segKey]*segState // made by the first state kept
	// tail is each lane's last segment, once looked up (tailKnown).
	tail      [numLanes]*segState
	tailKnown [numLanes]bool
}

type segKey struct {
	lane  Lane
	first ID
}

func newSegments(tx *bolt.Tx) *segments { return &segments{tx: tx} }

// keep remembers the state g for the rest of the transaction.
func (ss *segments) keep(l Lane, g *segState) {
	if ss.states == nil {
		ss.states = make(map[segKey]*segState)
	}
	ss.states[segKey{l, g.first}] = g
}

// index is lane l's index of segments.
func (ss *segments) index(l Lane) *bolt.Bucket { return ss.tx.Bucket(indexBuckets[l]) }

// bucket is the bucket of segment first of lane l, or nil.
func (ss *segments) bucket(l Lane, first ID) *bolt.Bucket {
	return ss.tx.Bucket(segmentName(l, first))
}

// state returns the state of segment first of lane l, whose stored form
// is v. A state that fails its checksum is rebuilt from the records: the
// segment's gone records, then, are live again (sent again, and counted
// in the lane again on their way out).
func (ss *segments) state(l Lane, first ID, v []byte) *segState {
	if g, ok := ss.states[segKey{l, first}]; ok {
		return g
	}
	g, ok := decodeSegState(first, v)
	if !ok {
		g = &segState{first: first, dirty: ss.tx.Writable()}
		if b := ss.bucket(l, first); b != nil {
			c := b.Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				g.last = max(g.last, idOf(k))
				g.puts++
				g.bytes += int64(len(v))
			}
		}
		g.live, g.liveSize = g.puts, g.bytes
	}
	ss.keep(l, g)
	return g
}

// floor positions c, a cursor over a lane's index, on the segment holding
// id: the last whose first ID is not above id. It returns its first ID
// and stored state, or 0 when every segment starts above id.
func floor(c *bolt.Cursor, id ID) (ID, []byte) {
	k, v := c.Seek(idKey(id))
	switch {
	case k != nil && idOf(k) == id:
	case k == nil:
		k, v = c.Last()
	default:
		k, v = c.Prev()
	}
	return keyID(k), v
}

// keyID is the ID of an index key, or 0 for none.
func keyID(k []byte) ID {
	if len(k) != 8 {
		return 0
	}
	return idOf(k)
}

// put stores record id of lane l.
func (ss *segments) put(l Lane, id ID, data []byte) error {
	if !ss.tailKnown[l] {
		if k, v := ss.index(l).Cursor().Last(); k != nil {
			ss.tail[l] = ss.state(l, keyID(k), v)
		}
		ss.tailKnown[l] = true
	}
	g := ss.tail[l]
	var err error
	switch {
	case g == nil || id > g.last && (g.full() || g.spent()):
		if g, err = ss.create(l, id); err != nil {
			return err
		}
		ss.tail[l] = g
	case id < g.first: // appended before a record committed earlier
		if first, v := floor(ss.index(l).Cursor(), id); first != 0 {
			g = ss.state(l, first, v)
		} else if g, err = ss.create(l, id); err != nil {
			return err
		}
	}
	b := ss.bucket(l, g.first)
	b.FillPercent = 1 // keys (almost) only grow: pack the pages
	if err := b.Put(idKey(id), data); err != nil {
		return err
	}
	g.last = max(g.last, id)
	g.puts++
	g.live++
	g.bytes += int64(len(data))
	g.liveSize += int64(len(data))
	g.dirty = true
	return nil
}

// create starts segment id of lane l: its bucket, and its entry in the
// index, for the lookups of this transaction (flush writes its state).
func (ss *segments) create(l Lane, id ID) (*segState, error) {
	if _, err := ss.tx.CreateBucket(segmentName(l, id)); err != nil {
		return nil, err
	}
	g := &segState{first: id, last: id}
	if err := ss.index(l).Put(idKey(id), g.encode()); err != nil {
		return nil, err
	}
	ss.keep(l, g)
	return g, nil
}

// get returns record id of lane l, or nil when it is not there or gone.
func (ss *segments) get(l Lane, id ID) []byte {
	first, sv := floor(ss.index(l).Cursor(), id)
	if first == 0 {
		return nil
	}
	b := ss.bucket(l, first)
	if b == nil {
		return nil
	}
	v := b.Get(idKey(id))
	if v == nil || ss.state(l, first, sv).gone(id) {
		return nil
	}
	return v
}

// flush writes the states that changed, and deletes the segments none
// of whose records is live.
func (ss *segments) flush() error {
	for key, g := range ss.states {
		if !g.dirty {
			continue
		}
		idx := ss.index(key.lane)
		if g.live == 0 {
			if err := ss.tx.DeleteBucket(segmentName(key.lane, key.first)); err != nil && !errors.Is(err, bolterrors.ErrBucketNotFound) {
				return err
			}
			if err := idx.Delete(idKey(key.first)); err != nil {
				return err
			}
			continue
		}
		if err := idx.Put(idKey(key.first), g.encode()); err != nil {
			return err
		}
	}
	clear(ss.states)
	ss.tail, ss.tailKnown = [numLanes]*segState{}, [numLanes]bool{}
	return nil
}
