package outbox

import (
	"reflect"
	"testing"
)

// FuzzDecodeSegState: a segment's stored state, damaged or made up, is
// refused or read as a state that could have been written: ranges in
// order, apart, within the IDs; and what it reads encodes to a state
// that reads the same.
func FuzzDecodeSegState(f *testing.F) {
	for _, g := range []*segState{
		{first: 1, last: 1, puts: 1, live: 1, bytes: 300, liveSize: 300},
		{first: 100, last: 1123, puts: 1024, live: 3, bytes: 262144, liveSize: 768, acked: []idRange{{100, 900}, {902, 1100}, {1102, 1120}}},
		{first: 1 << 40, last: 1<<40 + 5, puts: 4, live: 2, bytes: 40, liveSize: 20, acked: []idRange{{1 << 40, 1 << 40}, {1<<40 + 3, 1<<40 + 3}}},
	} {
		f.Add(uint64(g.first), g.encode())
	}
	f.Fuzz(func(t *testing.T, first uint64, b []byte) {
		g, ok := decodeSegState(ID(first), b)
		if !ok {
			return
		}
		if g.first != ID(first) || g.last < g.first || g.live > g.puts || g.liveSize > g.bytes {
			t.Fatalf("read a state that cannot be: %+v", g)
		}
		for i, r := range g.acked {
			if r.lo < g.first || r.hi < r.lo || i > 0 && r.lo <= g.acked[i-1].hi+1 {
				t.Fatalf("range %d of %+v: out of order, touching, or below the first ID", i, g.acked)
			}
		}
		again, ok := decodeSegState(ID(first), g.encode())
		if !ok || !reflect.DeepEqual(again, g) {
			t.Fatalf("%+v encodes to a state read as %+v (ok %v)", g, again, ok)
		}
	})
}
