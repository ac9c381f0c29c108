package outbox_test

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/iot-hub/agent/agent/outbox"
)

// salvageRecord is record i of the salvage tests: about 1 KiB, so that
// 1,000 of them make the 1 MiB file of issue 21; every fifth is control,
// every seventh retained, and some have headers and another topic.
func salvageRecord(i int) outbox.Record {
	p := fmt.Appendf(nil, "SALVAGE-%06d-", i)
	r := outbox.Record{Lane: outbox.LaneTelemetry, Topic: "salvage/telemetry", Key: []byte("gw-7"), Payload: append(p, bytes.Repeat([]byte{byte('a' + i%26)}, 900)...)}
	if i%5 == 0 {
		r.Lane, r.Topic = outbox.LaneControl, "salvage/control"
	}
	r.Retain = i%7 == 0
	if i%3 == 0 {
		r.Headers = []outbox.Header{{Key: "n", Value: []byte(strconv.Itoa(i))}}
	}
	return r
}

// salvageIndex is the i of a payload of salvageRecord, or -1.
func salvageIndex(payload []byte) int {
	s, ok := bytes.CutPrefix(payload, []byte("SALVAGE-"))
	if !ok || len(s) < 6 {
		return -1
	}
	i, err := strconv.Atoi(string(s[:6]))
	if err != nil {
		return -1
	}
	return i
}

// fillSalvage makes a closed store at path with records 0..n-1, appended
// 50 to a commit.
func fillSalvage(t testing.TB, path string, n int) {
	t.Helper()
	s, err := outbox.Open(path, outbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i += 50 {
		var recs []outbox.Record
		for j := i; j < min(i+50, n); j++ {
			recs = append(recs, salvageRecord(j))
		}
		mustAppend(t, s, recs...)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// pageOf returns the type of page id of the closed file at path, as
// bbolt names it ("leaf", "branch", "free"...).
func pageOf(t testing.TB, path string, id int) string {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, PreLoadFreelist: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	typ := ""
	err = db.View(func(tx *bolt.Tx) error {
		info, err := tx.Page(id)
		if info != nil {
			typ = info.Type
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return typ
}

// lastTxid is the id of the last transaction committed to the closed
// file at path.
func lastTxid(t testing.TB, path string) int {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	id := 0
	if err := db.View(func(tx *bolt.Tx) error { id = tx.ID(); return nil }); err != nil {
		t.Fatal(err)
	}
	return id
}

// findPage returns the first page of the given type ("branch", "leaf")
// at or after page from.
func findPage(t testing.TB, path, typ string, from int) int {
	t.Helper()
	for id := from; int64(id)*4096 < fileSizeOf(t, path); id++ {
		if pageOf(t, path, id) == typ {
			return id
		}
	}
	t.Fatalf("no %s page in %s", typ, path)
	return 0
}

// scribble writes n random bytes at off into the file at path.
func scribble(t testing.TB, path string, off int64, n int, rng *rand.Rand) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// checkSalvage opens the damaged store at path, which held records
// 0..n-1, and checks what it hands out: only records appended, each
// byte for byte as appended and once, in ID order within its lane, as
// many as Stats.Salvaged.Saved says. It checks that the store then takes
// and hands out a record, and returns the counts.
func checkSalvage(t testing.TB, path string, n int) outbox.SalvageCounts {
	t.Helper()
	s := openAt(t, path, outbox.Config{})
	st := s.Stats()
	got := st.Salvaged
	if depth := st.Control.Depth + st.Telemetry.Depth; depth != int(got.Saved) && len(movedAside(t, path)) > 0 {
		t.Errorf("the salvaged store holds %d records; Stats.Salvaged says %d saved", depth, got.Saved)
	}
	es := drainAll(t, s)
	seen := make(map[int]bool)
	last := [2]int{-1, -1}
	for _, e := range es {
		i := salvageIndex(e.Payload)
		if i < 0 || i >= n {
			t.Fatalf("entry %d was never appended: %q", e.ID, e.Payload)
		}
		want := salvageRecord(i)
		if !bytes.Equal(e.Payload, want.Payload) || e.Topic != want.Topic || !bytes.Equal(e.Key, want.Key) || e.Lane != want.Lane ||
			e.Retain != want.Retain || len(e.Headers) != len(want.Headers) || len(want.Headers) == 1 && (e.Headers[0].Key != want.Headers[0].Key || !bytes.Equal(e.Headers[0].Value, want.Headers[0].Value)) {
			t.Fatalf("record %d came out as %+v; appended as %+v", i, e, want)
		}
		if seen[i] {
			t.Fatalf("record %d handed out twice", i)
		}
		seen[i] = true
		if i < last[e.Lane] {
			t.Errorf("record %d handed out after record %d of its lane: out of order", i, last[e.Lane])
		}
		last[e.Lane] = i
	}
	if aside := movedAside(t, path); len(aside) > 0 && len(es) != int(got.Saved) {
		t.Errorf("handed out %d records; Stats.Salvaged says %d saved", len(es), got.Saved)
	}
	mustAppend(t, s, salvageRecord(n))
	if es := next(t, s, 10); len(es) != 1 || salvageIndex(es[0].Payload) != n {
		t.Fatalf("after the salvage, the store handed out %q; want the record appended", payloads(es))
	} else {
		s.Ack(ids(es)...)
	}
	return got
}

// TestSalvage damages a closed store of 1,000 records (about 1 MiB) as
// an SD card does, and checks how many records Open saves, and that each
// is byte for byte what was appended.
func TestSalvage(t *testing.T) {
	const n = 1000
	for _, tc := range []struct {
		name string
		// damage damages the file at path; it returns the least number
		// of records to be saved.
		damage func(t *testing.T, path string, rng *rand.Rand) uint64
	}{
		{"leaf page at 512 KiB", func(t *testing.T, path string, rng *rand.Rand) uint64 {
			if typ := pageOf(t, path, 128); typ != "leaf" {
				t.Fatalf("page 128 is a %s page; want a leaf", typ)
			}
			scribble(t, path, 512<<10, 4096, rng)
			return n - 4
		}},
		{"branch page", func(t *testing.T, path string, rng *rand.Rand) uint64 {
			scribble(t, path, int64(findPage(t, path, "branch", 2))*4096, 4096, rng)
			return n
		}},
		// bbolt writes a commit's meta page to page txid%2 and keeps the
		// tree of the commit before for the other: the newer page lost,
		// the last commit (50 records) goes with it.
		{"newer meta page", func(t *testing.T, path string, rng *rand.Rand) uint64 {
			scribble(t, path, 4096*int64(lastTxid(t, path)%2), 4096, rng)
			return n - 50
		}},
		{"older meta page", func(t *testing.T, path string, rng *rand.Rand) uint64 {
			scribble(t, path, 4096*int64(1-lastTxid(t, path)%2), 4096, rng)
			return n
		}},
		// bbolt writes a commit's root page, its branch pages and the
		// freelist anew, at the end of what is in use, and reuses the
		// pages of the roots before: cut off, no root is left, and the
		// topics' names (inline in the root) and the lanes go with it.
		// The records still in the file (960 of them) cannot be sent,
		// and are counted lost.
		{"truncated to half", func(t *testing.T, path string, rng *rand.Rand) uint64 {
			if err := os.Truncate(path, fileSizeOf(t, path)/2); err != nil {
				t.Fatal(err)
			}
			return 0
		}},
		// The last commit's root and freelist cut off (a crash while the
		// file grew): the root of the commit before is still there, and
		// with it every record but those of the last commit.
		{"last two pages in use cut off", func(t *testing.T, path string, rng *rand.Rand) uint64 {
			if err := os.Truncate(path, boltHighWater(t, path)-2*4096); err != nil {
				t.Fatal(err)
			}
			return n - 50
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "outbox.db")
			fillSalvage(t, path, n)
			t.Logf("file of %d bytes, %d in use", fileSizeOf(t, path), boltHighWater(t, path))
			least := tc.damage(t, path, rand.New(rand.NewPCG(21, 3)))
			got := checkSalvage(t, path, n)
			t.Logf("saved %d, lost %d, moved aside: %v", got.Saved, got.Lost, movedAside(t, path) != nil)
			if got.Saved < least {
				t.Errorf("saved %d records; want at least %d", got.Saved, least)
			}
		})
	}
}

// TestSalvageRandomDamage damages a store of 1,000 records 50 times, each
// time at a random offset, with 1 to 8 KiB of random bytes: Open must
// never panic or fail, and the store must hand out only records that
// were appended, each as appended, in its lane, and then a record
// appended. Damage more with another seed, and replay a failure with
// the seed it logs (the file's layout varies a little from run to run:
// bbolt's freelist picks pages from a map):
//
//	go test ./agent/outbox -run '^TestSalvageRandomDamage$' -salvage.rounds=1500 -salvage.seed=0
var (
	salvageRounds = flag.Int("salvage.rounds", 50, "damages TestSalvageRandomDamage makes")
	salvageSeed   = flag.Uint64("salvage.seed", 21, "seed of TestSalvageRandomDamage's damages; 0 picks one from the clock")
)

func TestSalvageRandomDamage(t *testing.T) {
	const n = 1000
	pristine := filepath.Join(t.TempDir(), "pristine.db")
	fillSalvage(t, pristine, n)
	data, err := os.ReadFile(pristine)
	if err != nil {
		t.Fatal(err)
	}
	used := boltHighWater(t, pristine)
	seed := *salvageSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	rng := rand.New(rand.NewPCG(seed, 50))
	var saved, lost, salvages uint64
	defer func() {
		if t.Failed() {
			t.Logf("replay with -salvage.seed=%d -salvage.rounds=%d", seed, *salvageRounds)
		}
	}()
	for round := range *salvageRounds {
		path := filepath.Join(t.TempDir(), "outbox.db")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		off, size := rng.Int64N(used), 1+rng.IntN(8<<10)
		scribble(t, path, off, size, rng)
		t.Run(strconv.Itoa(round), func(t *testing.T) {
			got := checkSalvage(t, path, n)
			if movedAside(t, path) != nil {
				salvages++
				saved, lost = saved+got.Saved, lost+got.Lost
			}
		})
	}
	t.Logf("%d of %d damaged files salvaged: %d records saved, %d counted lost (seed %d)", salvages, *salvageRounds, saved, lost, seed)
}

// TestSalvageKeepsMemosCursorsAndRoutes: a salvaged store (a branch page
// of the telemetry lane overwritten) keeps its memo, its cursors, and the
// route of a record appended for one uplink; a store whose root page is
// lost (both meta pages' roots overwritten) seeds the connection number
// with the time, above the 41 it had, so that it does not go back.
func TestSalvageKeepsMemosCursorsAndRoutes(t *testing.T) {
	cfg := outbox.Config{Uplinks: []string{"mqtt", "kafka"}}
	setup := func(t *testing.T) string {
		path := filepath.Join(t.TempDir(), "outbox.db")
		fillSalvage(t, path, 1000)
		s, err := outbox.Open(path, cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx := t.Context()
		if err := s.View("kafka").Append(ctx, salvageRecord(1000)); err != nil {
			t.Fatal(err)
		}
		if err := s.AppendMemo(ctx, outbox.Memo{Key: "cmd-1", Value: []byte("answer")}); err != nil {
			t.Fatal(err)
		}
		for name, v := range map[string]string{"status/connection": "41", "kafka/commands/0": "1234"} {
			if err := s.PutCursor(ctx, name, []byte(v)); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		return path
	}
	t.Run("branch page", func(t *testing.T) {
		path := setup(t)
		scribble(t, path, int64(findPage(t, path, "branch", 2))*4096, 4096, rand.New(rand.NewPCG(1, 1)))
		s := openAt(t, path, cfg)
		if got := s.Stats().Salvaged; got.Saved != 1001 || movedAside(t, path) == nil {
			t.Fatalf("salvaged %+v; want all 1,001 records saved from a file moved aside", got)
		}
		if v, ok, err := s.Memo("cmd-1"); err != nil || !ok || string(v) != "answer" {
			t.Errorf("memo = %q, %v, %v; want answer", v, ok, err)
		}
		for name, want := range map[string]string{"status/connection": "41", "kafka/commands/0": "1234"} {
			if v, ok, err := s.Cursor(name); err != nil || !ok || string(v) != want {
				t.Errorf("cursor %s = %q, %v, %v; want %s", name, v, ok, err, want)
			}
		}
		var routed []int
		for _, p := range drainView(t, s.View("mqtt")) {
			if salvageIndex([]byte(p)) == 1000 {
				t.Errorf("the record appended for kafka alone was handed out to mqtt")
			}
		}
		for _, p := range drainView(t, s.View("kafka")) {
			routed = append(routed, salvageIndex([]byte(p)))
		}
		if len(routed) != 1001 || !slices.Contains(routed, 1000) {
			t.Errorf("kafka was handed %d records; want 1,001, record 1000 (its own) among them", len(routed))
		}
	})
	t.Run("root page lost", func(t *testing.T) {
		path := setup(t)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(1, 2))
		for _, meta := range []int64{0, 4096} { // the root's page id, 16+16 bytes into a meta page
			root := binary.LittleEndian.Uint64(data[meta+32:])
			scribble(t, path, int64(root)*4096, 4096, rng)
		}
		before := time.Now().UnixMilli()
		s := openAt(t, path, cfg)
		v, ok, err := s.Cursor("status/connection")
		n, perr := strconv.ParseInt(string(v), 10, 64)
		if err != nil || !ok || perr != nil || n < before {
			t.Errorf("connection cursor after the salvage = %q, %v, %v; want a number at least %d, the time in Unix ms", v, ok, err, before)
		}
	})
}

// TestSalvageLeavesAcknowledgedRecordsOut damages a store whose records
// were acknowledged in part, so that segments hold records gone beside
// live ones: the salvage copies the live ones only, every one of them,
// and none of those acknowledged comes back.
func TestSalvageLeavesAcknowledgedRecordsOut(t *testing.T) {
	const n, acked = 1000, 600
	path := filepath.Join(t.TempDir(), "outbox.db")
	fillSalvage(t, path, n)
	s := openAt(t, path, outbox.Config{})
	es := drainExactly(t, s, n, 100, 10*time.Second)
	for _, e := range es {
		if salvageIndex(e.Payload) < acked {
			s.Ack(e.ID)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// The older meta page: the file is damaged, and nothing is lost.
	scribble(t, path, 4096*int64(1-lastTxid(t, path)%2), 4096, rand.New(rand.NewPCG(5, 8)))

	s = openAt(t, path, outbox.Config{})
	if got := s.Stats().Salvaged; got.Saved != n-acked || len(movedAside(t, path)) == 0 {
		t.Fatalf("salvaged %+v, file moved aside: %v; want %d saved", got, movedAside(t, path), n-acked)
	}
	seen := make(map[int]bool)
	for _, e := range drainAll(t, s) {
		i := salvageIndex(e.Payload)
		if i < acked || seen[i] {
			t.Fatalf("record %d handed out after the salvage: acknowledged before, or twice", i)
		}
		seen[i] = true
	}
	if len(seen) != n-acked {
		t.Errorf("handed out %d records after the salvage; want %d", len(seen), n-acked)
	}
}
