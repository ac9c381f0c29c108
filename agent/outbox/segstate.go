package outbox

import (
	"encoding/binary"
	"hash/crc32"
	"slices"
)

// idRange is the IDs from lo to hi, both included.
type idRange struct{ lo, hi ID }

// segState is a segment's state. Stored, in its lane's index, it is
//
//	last uvarint, the highest ID put, less the segment's first
//	puts, live uvarint: records put, and those not gone
//	bytes, liveBytes uvarint: their bytes
//	ranges uvarint, then for each: lo less the lowest it may be (the
//	  first ID, or the previous hi plus 2), hi less lo, uvarints
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

// spent reports whether the segment is done with though not full: none
// of its records is live (it is deleted with this commit), or most of
// them are gone. A drain that keeps up leaves the last segment spent
// commit after commit: new records then go to a new segment, small
// enough to be stored in its parent's page or one of its own, where
// the last of a growing one would cost a page for its records and one
// for its branch in each commit.
func (g *segState) spent() bool {
	return g.live == 0 || g.puts >= segSpentRecords && g.live*4 <= g.puts
}

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
	for i, r := range g.acked {
		from := g.first
		if i > 0 {
			from = g.acked[i-1].hi + 2
		}
		b = binary.AppendUvarint(b, uint64(r.lo-from))
		b = binary.AppendUvarint(b, uint64(r.hi-r.lo))
	}
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// decodeSegState parses the stored state of the segment first. It
// refuses one that fails its checksum, or whose counts or ranges could
// not have been written (more live records than put, ranges out of
// order, touching, or past the IDs' end).
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
	if g.last < first || g.live > g.puts || g.liveSize > g.bytes || g.live < 0 || g.liveSize < 0 {
		return nil, false
	}
	g.acked = make([]idRange, n)
	for i := range g.acked {
		from := first // the lowest lo may be
		if i > 0 {
			from = g.acked[i-1].hi + 2 // ranges that touch are one
			if from < g.acked[i-1].hi {
				return nil, false
			}
		}
		lo := from + ID(d.uvarint())
		hi := lo + ID(d.uvarint())
		if lo < from || hi < lo {
			return nil, false
		}
		g.acked[i] = idRange{lo, hi}
	}
	if d.err || len(d.b) != 0 {
		return nil, false
	}
	return g, true
}
