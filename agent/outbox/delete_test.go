package outbox

import (
	"maps"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestDeleteRecordsMatchesAModel deletes records from a tree of many
// pages, in transactions that also put records and delete in several
// passes, some of the IDs deleted before or never there, in any order:
// what is left, and the counts, must be what a map says. A deleter that
// trusted its cursor after a delete (etcd-io/bbolt#146) skips records
// here, or counts one twice.
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
	put := func(tx *bolt.Tx, n int) {
		for range n {
			l := Lane(min(rng.IntN(4), 1)) // a quarter control
			size := 50 + rng.IntN(400)
			if err := tx.Bucket(laneBuckets[l]).Put(idKey(next), make([]byte, size)); err != nil {
				t.Fatal(err)
			}
			model[l][next] = size
			st.lanes[l].count++
			st.lanes[l].bytes += int64(size)
			next++
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
		for _, name := range laneBuckets {
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
		put(tx, 20000)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for round := range 60 {
		err := db.Update(func(tx *bolt.Tx) error {
			for range 1 + rng.IntN(3) {
				if rng.IntN(2) == 0 {
					put(tx, rng.IntN(200))
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
				if err := deleteRecords(tx, &st, ds); err != nil {
					return err
				}
				if st.lanes != want.lanes || st.dropped != want.dropped {
					t.Fatalf("round %d: counts after deleting %d records are %+v, want %+v", round, len(ds), st, want)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		err = db.View(func(tx *bolt.Tx) error {
			for l := range Lane(numLanes) {
				var got []ID
				if err := tx.Bucket(laneBuckets[l]).ForEach(func(k, _ []byte) error {
					got = append(got, idOf(k))
					return nil
				}); err != nil {
					return err
				}
				want := slices.Sorted(maps.Keys(model[l]))
				if !slices.Equal(got, want) {
					t.Fatalf("round %d: lane %v holds %d records, want %d (first difference at %v)", round, l, len(got), len(want), firstDifference(got, want))
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
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
