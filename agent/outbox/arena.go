package outbox

import "unsafe"

// arena holds the memory of the records one TryNext decodes: their bytes
// and headers come out of chunks shared by many records, and their header
// keys, which repeat from record to record, are interned. Allocating each
// record's copy, header slice and key strings apart cost more than the
// rest of a drain.
//
// A nil arena allocates each piece apart, for a record decoded alone.
//
// A chunk is sized for the records still to come, as many as room says
// (a TryNext of one entry allocates for one), up to arenaChunk bytes. It
// lives as long as any record cut from it: a consumer holding one entry
// holds its chunk.
//
// The arena of a Batch is reused: reset makes its memory free for the next
// TryNextBatch, in one chunk as large as the last call needed (up to
// maxReused), so a consumer draining at a steady pace allocates nothing.
type arena struct {
	bytes []byte
	hdrs  []Header
	keys  *[]string // interned header keys, shared by the store's arenas
	room  int       // records still to come, this one included

	// A Batch's arena is reused: what it gave out since reset, and the
	// chunks reset starts again from.
	usedB, usedH int
	spareB       []byte
	spareH       []Header
}

// Chunk sizes of an arena.
const (
	arenaChunk   = 64 << 10 // bytes
	arenaHeaders = 1024     // headers
	// maxReused bounds the bytes a Batch keeps from call to call.
	maxReused = 1 << 20
	// maxInternedKeys bounds the interned header keys: a producer that
	// makes up new keys gets them allocated, not remembered.
	maxInternedKeys = 16
)

// reset makes the memory the arena gave out free again: nothing cut from
// it may be used after. The next records go into one chunk of bytes and
// one of headers, each as large as those given out since the last reset.
func (a *arena) reset() {
	if a.usedB > cap(a.spareB) && a.usedB <= maxReused {
		a.spareB = make([]byte, 0, a.usedB)
	}
	if a.usedH > cap(a.spareH) && a.usedH*headerSize <= maxReused {
		a.spareH = make([]Header, 0, a.usedH)
	}
	a.bytes, a.hdrs = a.spareB[:0], a.spareH[:0]
	a.usedB, a.usedH = 0, 0
}

// headerSize is the size of a Header in memory.
const headerSize = int(unsafe.Sizeof(Header{}))

// copy returns a copy of b in the arena, of full capacity: an append to
// it copies, and leaves its neighbours be.
func (a *arena) copy(b []byte) []byte {
	if a == nil || len(b) > cap(a.bytes)-len(a.bytes) {
		if a == nil || len(b) > arenaChunk/4 {
			return append([]byte(nil), b...)
		}
		a.bytes = make([]byte, 0, min(arenaChunk, len(b)*max(a.room, 1)))
	}
	n := len(a.bytes)
	a.bytes = append(a.bytes, b...)
	a.usedB += len(b)
	return a.bytes[n:len(a.bytes):len(a.bytes)]
}

// headers returns n headers in the arena, of full capacity.
func (a *arena) headers(n int) []Header {
	if a == nil || n > cap(a.hdrs)-len(a.hdrs) {
		if a == nil || n > arenaHeaders/4 {
			return make([]Header, n)
		}
		a.hdrs = make([]Header, 0, min(arenaHeaders, n*max(a.room, 1)))
	}
	m := len(a.hdrs)
	a.hdrs = a.hdrs[:m+n]
	a.usedH += n
	return a.hdrs[m : m+n : m+n]
}

// key returns b as a string, interned. Records carry a handful of
// header keys: a look through them costs less than a map's hash.
func (a *arena) key(b []byte) string {
	if a == nil {
		return string(b)
	}
	for _, k := range *a.keys {
		if k == string(b) {
			return k
		}
	}
	k := string(b)
	if len(*a.keys) < maxInternedKeys {
		*a.keys = append(*a.keys, k)
	}
	return k
}
