package outbox

import (
	"maps"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestDeleteRecordsMatchesAModel deletes records from segments of many
// pages, in transactions that also put records (some below IDs put
// before, as appends committed out of order) and delete in several
// passes, some of the IDs deleted before or never there, in any order:
// what is left, read back by a lane cursor, and the counts, must be what
// a map says. After each commit every segment must have a live record
// and a state that tells its gone records from its live ones, and a
// segment none of whose records is live must be gone.
func TestDeleteRecordsMatchesAModel(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "delete.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	model := [numLanes]map[ID]int{{}, {}} // ID to the record's size
	var st txState
	next := ID(1)
	var held []ID // IDs given out and put later, as a slow append's
	put := func(n int) {
		for range n {
			id := next
			switch {
			case len(held) > 0 && rng.IntN(20) == 0:
				id, held = held[0], held[1:]
			case rng.IntN(50) == 0:
				held = append(held, next)
				next++
				continue
			default:
				next++
			}
			l := Lane(min(rng.IntN(4), 1)) // a quarter control
			size := 50 + rng.IntN(400)
			if err := st.segs.put(l, id, make([]byte, size)); err != nil {
				t.Fatal(err)
			}
			model[l][id] = size
			st.lanes[l].count++
			st.lanes[l].bytes += int64(size)
		}
	}
	// deletes picks IDs to delete: runs of neighbours, as acks come,
	// and IDs at random, some gone or never there, in any order.
	deletes := func() []pendingDelete {
		var ds []pendingDelete
		for range 1 + rng.IntN(4) {
			from, n := ID(1+rng.Int64N(int64(next))), rng.IntN(300)
			for id := from; id < from+ID(n) && id < next; id++ {
				ds = append(ds, pendingDelete{id: id, lane: Lane(rng.IntN(2))})
			}
		}
		for range rng.IntN(50) {
			ds = append(ds, pendingDelete{id: ID(rng.Int64N(int64(next) + 10)), lane: Lane(rng.IntN(2)), expired: rng.IntN(2) == 0})
		}
		rng.Shuffle(len(ds), func(i, j int) { ds[i], ds[j] = ds[j], ds[i] })
		return ds
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, name := range indexBuckets {
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
		st.segs = newSegments(tx)
		put(20000)
		return st.segs.flush()
	}); err != nil {
		t.Fatal(err)
	}
	for round := range 60 {
		err := db.Update(func(tx *bolt.Tx) error {
			st.segs = newSegments(tx)
			for range 1 + rng.IntN(3) {
				if rng.IntN(2) == 0 {
					put(rng.IntN(200))
				}
				ds := deletes()
				want := st
				for _, d := range ds {
					if size, ok := model[d.lane][d.id]; ok {
						delete(model[d.lane], d.id)
						want.lanes[d.lane].count--
						want.lanes[d.lane].bytes -= int64(size)
					}
					if d.expired {
						want.dropped.Expired++
					}
				}
				if err := deleteRecords(&st, ds); err != nil {
					return err
				}
				if st.lanes != want.lanes || st.dropped != want.dropped {
					t.Fatalf("round %d: counts after deleting %d records are %+v, want %+v", round, len(ds), st, want)
				}
			}
			return st.segs.flush()
		})
		if err != nil {
			t.Fatal(err)
		}
		err = db.View(func(tx *bolt.Tx) error {
			ss := newSegments(tx)
			for l := range Lane(numLanes) {
				var got []ID
				c := ss.cursor(l)
				for id, v := c.First(); id != 0; id, v = c.Next() {
					got = append(got, id)
					if len(v) != model[l][id] {
						t.Fatalf("round %d: record %d holds %d bytes, want %d", round, id, len(v), model[l][id])
					}
				}
				want := slices.Sorted(maps.Keys(model[l]))
				if !slices.Equal(got, want) {
					t.Fatalf("round %d: lane %v holds %d records, want %d (first difference at %v)", round, l, len(got), len(want), firstDifference(got, want))
				}
				checkSegments(t, tx, l, model[l])
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// checkSegments checks the segments of lane l against model, the live
// records by ID: each segment's state counts its live records and bytes,
// and its gone ones are none of them; none is without a live record;
// and each holds its records, those from its first ID up to the next
// segment's.
func checkSegments(t *testing.T, tx *bolt.Tx, l Lane, model map[ID]int) {
	t.Helper()
	var prev *segState
	segs := 0
	err := tx.Bucket(indexBuckets[l]).ForEach(func(k, sv []byte) error {
		g, ok := decodeSegState(idOf(k), sv)
		if !ok {
			t.Fatalf("lane %v, segment %d: its state does not decode", l, idOf(k))
		}
		b := tx.Bucket(segmentName(l, g.first))
		if b == nil {
			t.Fatalf("lane %v, segment %d: in the index, not in the file", l, g.first)
		}
		segs++
		live, size, puts := 0, int64(0), 0
		err := b.ForEach(func(rk, v []byte) error {
			if len(rk) != 8 {
				return nil
			}
			id := idOf(rk)
			puts++
			_, isLive := model[id]
			if isLive == g.gone(id) {
				t.Fatalf("lane %v, segment %d: record %d live %v, but gone by the state %v", l, g.first, id, isLive, g.gone(id))
			}
			if id < g.first || id > g.last || prev != nil && id <= prev.last {
				t.Fatalf("lane %v, segment %d (last %d): holds record %d", l, g.first, g.last, id)
			}
			if isLive {
				live++
				size += int64(len(v))
			}
			return nil
		})
		if err != nil {
			return err
		}
		if live == 0 || g.live != live || g.liveSize != size || g.puts != puts {
			t.Fatalf("lane %v, segment %d: state live %d (%d bytes), puts %d; holds %d live (%d bytes) of %d", l, g.first, g.live, g.liveSize, g.puts, live, size, puts)
		}
		prev = g
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
		if sl, _, ok := segmentOf(name); ok && sl == l {
			segs--
		}
		return nil
	})
	if segs != 0 {
		t.Fatalf("lane %v: %d segments in the index and not in the file, or the other way", l, segs)
	}
}

// firstDifference is the first ID where a and b differ.
func firstDifference(a, b []ID) ID {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return min(a[i], b[i])
		}
	}
	if len(a) > len(b) {
		return a[len(b)]
	}
	if len(b) > len(a) {
		return b[len(a)]
	}
	return 0
}
