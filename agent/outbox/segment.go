package outbox

import (
	"encoding/binary"
	"hash/crc32"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// Records are kept in segments. A lane's bucket (segmentBuckets) holds a
// bucket per segment, under the ID of the segment's first record (8
// bytes, big-endian), and the segment's state beside it, under that ID
// and a zero byte (stateKey), which sorts between it and the next
// segment. A segment holds the records whose IDs run from its key up to
// the next segment's, each under its ID. The states are in the lane's
// bucket, not the segments', because a commit that touches a segment
// writes the lane bucket's page of it anyway (the segment's root moves),
// where a state in the segment would be one more page to write.
//
// A record that leaves (acknowledged, expired, dropped for room,
// quarantined) stays in its segment: its ID joins the segment's
// acknowledged ranges, and the segment goes with one DeleteBucket once
// none of its records is live. Deleting records one by one cost a search
// of the tree and a rewrite of a leaf for each, the larger part of a
// drain's commits. A segment that stays sparse, a few records live among
// many gone (the answers for an uplink that is out, say), is pruned: its
// gone records deleted one by one, once (see prune).
//
// New records go to the lane's last segment until it holds segMaxRecords
// records or segMaxBytes bytes, then to a new one. A record whose ID is
// below the last segment's (appended before a record committed earlier)
// goes to the segment its ID falls in.
var segmentBuckets = [numLanes][]byte{[]byte("control.segments"), []byte("telemetry.segments")}

// stateKey is the key of the state of segment first.
func stateKey(first ID) []byte { return append(idKey(first), 0) }

// isSegment reports whether k, a key of a lane's bucket, is a segment's.
func isSegment(k []byte) bool { return len(k) == 8 }

// Segment bounds, chosen by measurement (docs/development.md): a drain
// deletes a segment per this many records, and a sparse segment pins
// at most this much of the file.
const (
	segMaxRecords = 1024
	segMaxBytes   = 256 << 10
)

// idRange is the IDs from lo to hi, both included.
type idRange struct{ lo, hi ID }

// segState is a segment's state. Stored, under stateKey, it is
//
//	last uvarint, the highest ID put, less the segment's first
//	puts, live uvarint: records put, and those not gone
//	bytes, liveBytes uvarint: their bytes
//	ranges uvarint, then for each: lo less the previous hi (or the
//	  first), hi less lo, uvarints
//	CRC-32C of all of the above, 4 bytes big-endian
type segState struct {
	first, last     ID
	puts, live      int
	bytes, liveSize int64
	acked           []idRange // sorted, disjoint, not adjacent
	dirty           bool      // changed in this transaction
}

// full reports whether the segment takes no more records at its end.
func (g *segState) full() bool { return g.puts >= segMaxRecords || g.bytes >= segMaxBytes }

// gone reports whether record id left the segment.
func (g *segState) gone(id ID) bool {
	_, ok := g.rangeOf(id)
	return ok
}

// rangeOf returns the index of the acknowledged range holding id.
func (g *segState) rangeOf(id ID) (int, bool) {
	i, _ := slices.BinarySearchFunc(g.acked, id, func(r idRange, id ID) int {
		switch {
		case r.hi < id:
			return -1
		case r.lo > id:
			return 1
		}
		return 0
	})
	return i, i < len(g.acked) && g.acked[i].lo <= id && id <= g.acked[i].hi
}

// leave adds id, not gone yet, to the acknowledged ranges.
func (g *segState) leave(id ID) {
	i, _ := g.rangeOf(id) // where id would go
	joinsPrev := i > 0 && g.acked[i-1].hi+1 == id
	joinsNext := i < len(g.acked) && g.acked[i].lo == id+1
	switch {
	case joinsPrev && joinsNext:
		g.acked[i-1].hi = g.acked[i].hi
		g.acked = slices.Delete(g.acked, i, i+1)
	case joinsPrev:
		g.acked[i-1].hi = id
	case joinsNext:
		g.acked[i].lo = id
	default:
		g.acked = slices.Insert(g.acked, i, idRange{id, id})
	}
}

func (g *segState) encode() []byte {
	b := make([]byte, 0, 6*binary.MaxVarintLen64+len(g.acked)*2*binary.MaxVarintLen32+4)
	b = binary.AppendUvarint(b, uint64(g.last-g.first))
	b = binary.AppendUvarint(b, uint64(g.puts))
	b = binary.AppendUvarint(b, uint64(g.live))
	b = binary.AppendUvarint(b, uint64(g.bytes))
	b = binary.AppendUvarint(b, uint64(g.liveSize))
	b = binary.AppendUvarint(b, uint64(len(g.acked)))
	prev := g.first
	for _, r := range g.acked {
		b = binary.AppendUvarint(b, uint64(r.lo-prev))
		b = binary.AppendUvarint(b, uint64(r.hi-r.lo))
		prev = r.hi
	}
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// decodeSegState parses the stored state of the segment first.
func decodeSegState(first ID, b []byte) (*segState, bool) {
	if len(b) < 4 || crc32.Checksum(b[:len(b)-4], castagnoli) != binary.BigEndian.Uint32(b[len(b)-4:]) {
		return nil, false
	}
	d := decoder{b: b[:len(b)-4]}
	g := &segState{first: first}
	g.last = first + ID(d.uvarint())
	g.puts, g.live = int(d.uvarint()), int(d.uvarint())
	g.bytes, g.liveSize = int64(d.uvarint()), int64(d.uvarint())
	n := d.uvarint()
	if d.err || n > uint64(len(d.b)) {
		return nil, false
	}
	g.acked = make([]idRange, n)
	prev := first
	for i := range g.acked {
		lo := prev + ID(d.uvarint())
		g.acked[i] = idRange{lo, lo + ID(d.uvarint())}
		prev = g.acked[i].hi
	}
	if d.err || len(d.b) != 0 {
		return nil, false
	}
	return g, true
}

// segments is one transaction's access to the lanes' records: the
// states of the segments it touched, read once and, in a write
// transaction, written back by flush.
type segments struct {
	tx     *bolt.Tx
	states map[segKey]*segState
	// tail is each lane's last segment, once looked up (tailKnown).
	tail      [numLanes]*segState
	tailKnown [numLanes]bool
}

type segKey struct {
	lane  Lane
	first ID
}

func newSegments(tx *bolt.Tx) *segments {
	return &segments{tx: tx, states: make(map[segKey]*segState)}
}

func (ss *segments) lane(l Lane) *bolt.Bucket { return ss.tx.Bucket(segmentBuckets[l]) }

// state returns the state of the segment first of lane l, whose bucket
// is b. A state that fails its checksum, or is missing, is rebuilt from
// the records: the segment's gone records, then, are live again (sent
// again, and counted in the lane again on their way out).
func (ss *segments) state(l Lane, first ID, b *bolt.Bucket) *segState {
	if g, ok := ss.states[segKey{l, first}]; ok {
		return g
	}
	g, ok := decodeSegState(first, ss.lane(l).Get(stateKey(first)))
	if !ok {
		g = &segState{first: first, dirty: ss.tx.Writable()}
		c := b.Cursor()
		for k, v := c.Seek(idKey(first)); k != nil; k, v = c.Next() {
			g.last = max(g.last, idOf(k))
			g.puts++
			g.bytes += int64(len(v))
		}
		g.live, g.liveSize = g.puts, g.bytes
	}
	ss.states[segKey{l, first}] = g
	return g
}

// floor positions c, a cursor over a lane's bucket, on the segment
// holding id: the last whose first ID is not above id. It returns its key,
// or nil when every segment starts above id.
func floor(c *bolt.Cursor, id ID) []byte {
	k, _ := c.Seek(idKey(id))
	if k != nil && isSegment(k) && idOf(k) == id {
		return k
	}
	if k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	for k != nil && !isSegment(k) {
		k, _ = c.Prev()
	}
	return k
}

// nextSegment steps c, a cursor over a lane's bucket, on to the next
// segment, and returns its key (nil past the last).
func nextSegment(c *bolt.Cursor) []byte {
	k, _ := c.Next()
	for k != nil && !isSegment(k) {
		k, _ = c.Next()
	}
	return k
}

// firstSegment is nextSegment from the start.
func firstSegment(c *bolt.Cursor) []byte {
	k, _ := c.First()
	if k != nil && !isSegment(k) {
		return nextSegment(c)
	}
	return k
}

// lastSegment is the last segment's key, c positioned on it.
func lastSegment(c *bolt.Cursor) []byte {
	k, _ := c.Last()
	for k != nil && !isSegment(k) {
		k, _ = c.Prev()
	}
	return k
}

// put stores record id of lane l.
func (ss *segments) put(l Lane, id ID, data []byte) error {
	lb := ss.lane(l)
	if !ss.tailKnown[l] {
		if k := lastSegment(lb.Cursor()); k != nil {
			ss.tail[l] = ss.state(l, idOf(k), lb.Bucket(k))
		}
		ss.tailKnown[l] = true
	}
	g := ss.tail[l]
	switch {
	case g == nil || id > g.last && (g.full() || g.live == 0):
		// A segment whose records are all gone is deleted with this
		// commit, not written to.
		g = ss.create(l, id)
		ss.tail[l] = g
	case id < g.first: // appended before a record committed earlier
		if k := floor(lb.Cursor(), id); k != nil {
			g = ss.state(l, idOf(k), lb.Bucket(k))
		} else {
			g = ss.create(l, id)
		}
	}
	b := lb.Bucket(idKey(g.first))
	if b == nil {
		if _, err := lb.CreateBucket(idKey(g.first)); err != nil {
			return err
		}
		b = lb.Bucket(idKey(g.first))
	}
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

// create starts segment id of lane l; put makes its bucket.
func (ss *segments) create(l Lane, id ID) *segState {
	g := &segState{first: id, last: id}
	ss.states[segKey{l, id}] = g
	return g
}

// get returns record id of lane l, or nil when it is not there or gone.
func (ss *segments) get(l Lane, id ID) []byte {
	lb := ss.lane(l)
	k := floor(lb.Cursor(), id)
	if k == nil {
		return nil
	}
	b := lb.Bucket(k)
	v := b.Get(idKey(id))
	if v == nil || ss.state(l, idOf(k), b).gone(id) {
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
		lb := ss.lane(key.lane)
		if g.live == 0 {
			if err := lb.DeleteBucket(idKey(key.first)); err != nil {
				return err
			}
			if err := lb.Delete(stateKey(key.first)); err != nil {
				return err
			}
			continue
		}
		if err := lb.Put(stateKey(key.first), g.encode()); err != nil {
			return err
		}
		g.dirty = false
	}
	clear(ss.states)
	ss.tail, ss.tailKnown = [numLanes]*segState{}, [numLanes]bool{}
	return nil
}
