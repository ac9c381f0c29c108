package outbox_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/internal/syncbuf"
)

// cursor reads the cursor under name or fails the test.
func cursor(t testing.TB, s *outbox.Store, name string) (string, bool) {
	t.Helper()
	v, ok, err := s.Cursor(name)
	if err != nil {
		t.Fatalf("Cursor(%q) = %v", name, err)
	}
	return string(v), ok
}

// mustPutCursor puts value under name or fails the test.
func mustPutCursor(t testing.TB, s *outbox.Store, name, value string) {
	t.Helper()
	if err := s.PutCursor(context.Background(), name, []byte(value)); err != nil {
		t.Fatalf("PutCursor(%q, %q) = %v", name, value, err)
	}
}

func TestCursorPutReplaceDelete(t *testing.T) {
	s, _ := openStore(t, outbox.Config{})
	if v, ok := cursor(t, s, "p0"); ok {
		t.Errorf("Cursor(p0) on a new store = %q, true; want none", v)
	}
	mustPutCursor(t, s, "p0", "41")
	mustPutCursor(t, s, "p1", "7")
	if v, ok := cursor(t, s, "p0"); !ok || v != "41" {
		t.Errorf("Cursor(p0) = %q, %v; want 41, true", v, ok)
	}
	mustPutCursor(t, s, "p0", "42")
	if v, ok := cursor(t, s, "p0"); !ok || v != "42" {
		t.Errorf("after a replacement Cursor(p0) = %q, %v; want 42, true", v, ok)
	}
	if v, ok := cursor(t, s, "p1"); !ok || v != "7" {
		t.Errorf("Cursor(p1) = %q, %v; want 7, true: replacing p0 must not touch it", v, ok)
	}
	mustPutCursor(t, s, "empty", "")
	if v, ok, err := s.Cursor("empty"); err != nil || !ok || v == nil || len(v) != 0 {
		t.Errorf("Cursor(empty) = %q (nil %v), %v, %v; want an empty value, true", v, v == nil, ok, err)
	}
	if err := s.DeleteCursor(context.Background(), "p1"); err != nil {
		t.Fatalf("DeleteCursor(p1) = %v", err)
	}
	if v, ok := cursor(t, s, "p1"); ok {
		t.Errorf("after DeleteCursor Cursor(p1) = %q, true; want none", v)
	}
	if err := s.DeleteCursor(context.Background(), "never"); err != nil {
		t.Errorf("DeleteCursor of an absent cursor = %v; want nil", err)
	}
	// A value given to PutCursor is the caller's again once it returns.
	buf := []byte("100")
	if err := s.PutCursor(context.Background(), "p2", buf); err != nil {
		t.Fatal(err)
	}
	copy(buf, "999")
	if v, _ := cursor(t, s, "p2"); v != "100" {
		t.Errorf("Cursor(p2) = %q after the caller reused its buffer; want 100", v)
	}
	// Records do not see cursors, nor cursors records.
	if st := s.Stats(); st.Control.Depth+st.Telemetry.Depth != 0 || st.Control.Bytes+st.Telemetry.Bytes != 0 {
		t.Errorf("Stats after cursors only = %+v; want no records, no bytes", st)
	}
}

func TestCursorRefusesBadArguments(t *testing.T) {
	s, _ := openStore(t, outbox.Config{})
	ctx := context.Background()
	longName := strings.Repeat("n", outbox.MaxCursorName+1)
	for _, tc := range []struct {
		name  string
		cname string
		value []byte
		want  error
	}{
		{"EmptyName", "", nil, outbox.ErrInvalidRecord},
		{"NameTooLong", longName, nil, outbox.ErrInvalidRecord},
		{"ValueTooLong", "p0", make([]byte, outbox.MaxCursorValue+1), outbox.ErrTooLarge},
		{"Largest", strings.Repeat("n", outbox.MaxCursorName), bytes.Repeat([]byte{0xa5}, outbox.MaxCursorValue), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.PutCursor(ctx, tc.cname, tc.value); !errors.Is(err, tc.want) {
				t.Errorf("PutCursor(name of %d bytes, value of %d) = %v; want %v", len(tc.cname), len(tc.value), err, tc.want)
			}
			v, ok, err := s.Cursor(tc.cname)
			switch {
			case tc.want == nil && (err != nil || !ok || !bytes.Equal(v, tc.value)):
				t.Errorf("Cursor(name of %d bytes) = %d bytes, %v, %v; want the value put", len(tc.cname), len(v), ok, err)
			case tc.want != nil && ok:
				t.Errorf("Cursor(name of %d bytes) found a value a refused PutCursor gave", len(tc.cname))
			}
		})
	}
	for _, name := range []string{"", longName} {
		if _, _, err := s.Cursor(name); !errors.Is(err, outbox.ErrInvalidRecord) {
			t.Errorf("Cursor(name of %d bytes) = %v; want ErrInvalidRecord", len(name), err)
		}
		if err := s.DeleteCursor(ctx, name); !errors.Is(err, outbox.ErrInvalidRecord) {
			t.Errorf("DeleteCursor(name of %d bytes) = %v; want ErrInvalidRecord", len(name), err)
		}
	}
}

func TestCursorCountIsBounded(t *testing.T) {
	s, _ := openStore(t, outbox.Config{})
	var wg sync.WaitGroup
	for i := range outbox.MaxCursors {
		wg.Go(func() {
			if err := s.PutCursor(context.Background(), fmt.Sprint("c", i), []byte(strconv.Itoa(i))); err != nil {
				t.Errorf("PutCursor(c%d) = %v", i, err)
			}
		})
	}
	wg.Wait()
	if err := s.PutCursor(context.Background(), "one-too-many", nil); !errors.Is(err, outbox.ErrFull) {
		t.Errorf("PutCursor of cursor %d = %v; want ErrFull", outbox.MaxCursors+1, err)
	}
	if _, ok := cursor(t, s, "one-too-many"); ok {
		t.Error("the refused cursor is stored")
	}
	mustPutCursor(t, s, "c0", "replaced") // replacing needs no room
	if err := s.DeleteCursor(context.Background(), "c1"); err != nil {
		t.Fatal(err)
	}
	mustPutCursor(t, s, "one-too-many", "fits now")
	if v, ok := cursor(t, s, fmt.Sprint("c", outbox.MaxCursors-1)); !ok || v != strconv.Itoa(outbox.MaxCursors-1) {
		t.Errorf("Cursor(c%d) = %q, %v; want its value", outbox.MaxCursors-1, v, ok)
	}
}

func TestCursorOnClosedStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	s, err := outbox.Open(path, outbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	mustPutCursor(t, s, "p0", "1")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.PutCursor(context.Background(), "p0", []byte("2")); !errors.Is(err, outbox.ErrClosed) {
		t.Errorf("PutCursor after Close = %v; want ErrClosed", err)
	}
	if err := s.DeleteCursor(context.Background(), "p0"); !errors.Is(err, outbox.ErrClosed) {
		t.Errorf("DeleteCursor after Close = %v; want ErrClosed", err)
	}
	if _, _, err := s.Cursor("p0"); !errors.Is(err, outbox.ErrClosed) {
		t.Errorf("Cursor after Close = %v; want ErrClosed", err)
	}
	checkFile(t, path)
}

func TestCursorSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	s, err := outbox.Open(path, outbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	mustPutCursor(t, s, "p0", "1")
	mustPutCursor(t, s, "p0", "2")
	mustPutCursor(t, s, "p1", "9")
	if err := s.DeleteCursor(context.Background(), "p1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path, outbox.Config{})
	if v, ok := cursor(t, s, "p0"); !ok || v != "2" {
		t.Errorf("after restart Cursor(p0) = %q, %v; want 2, true", v, ok)
	}
	if v, ok := cursor(t, s, "p1"); ok {
		t.Errorf("after restart the deleted Cursor(p1) = %q; want none", v)
	}
}

// A file written before cursors existed has no cursors bucket: Open adds it.
func TestCursorsBucketIsAddedToAnOlderFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	s, err := outbox.Open(path, outbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, ctl("kept"))
	s.Close()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket([]byte("cursors")) })
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path, outbox.Config{})
	if _, ok := cursor(t, s, "p0"); ok {
		t.Error("Cursor(p0) found in a file without cursors")
	}
	mustPutCursor(t, s, "p0", "1")
	if v, ok := cursor(t, s, "p0"); !ok || v != "1" {
		t.Errorf("Cursor(p0) = %q, %v; want 1, true", v, ok)
	}
	if got := payloads(next(t, s, 10)); len(got) != 1 || got[0] != "kept" {
		t.Errorf("Next = %v; want [kept]", got)
	}
}

// PutCursor and Append from many goroutines share commits, and every
// cursor ends with its last value.
func TestCursorSharesCommitsWithAppends(t *testing.T) {
	s, _ := openStore(t, outbox.Config{})
	const workers, each = 8, 25
	before := s.Stats().Commits
	var wg sync.WaitGroup
	for g := range workers {
		wg.Go(func() {
			for i := range each {
				if err := s.PutCursor(context.Background(), fmt.Sprint("p", g), []byte(strconv.Itoa(i))); err != nil {
					t.Errorf("PutCursor(p%d, %d) = %v", g, i, err)
					return
				}
				if err := s.Append(context.Background(), tel(fmt.Sprint(g, "/", i))); err != nil {
					t.Errorf("Append = %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	calls := uint64(2 * workers * each)
	commits := s.Stats().Commits - before
	if commits >= calls {
		t.Errorf("%d commits for %d PutCursor and Append calls; want them to share commits", commits, calls)
	}
	t.Logf("%d PutCursor and Append calls in %d commits", calls, commits)
	for g := range workers {
		if v, ok := cursor(t, s, fmt.Sprint("p", g)); !ok || v != strconv.Itoa(each-1) {
			t.Errorf("Cursor(p%d) = %q, %v; want %d", g, v, ok, each-1)
		}
	}
	if st := s.Stats(); st.Telemetry.Depth != workers*each {
		t.Errorf("telemetry depth %d; want %d", st.Telemetry.Depth, workers*each)
	}
}

// A cursor is control work: FlushInterval does not delay it.
func TestCursorCommitsWithoutFlushDelay(t *testing.T) {
	s, _ := openStore(t, outbox.Config{Settings: outbox.Settings{FlushInterval: time.Minute}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	before := s.Stats().Commits
	if err := s.PutCursor(ctx, "p0", []byte("1")); err != nil {
		t.Fatalf("PutCursor with a FlushInterval of a minute = %v; want it committed at once", err)
	}
	if got := s.Stats().Commits - before; got != 1 {
		t.Errorf("PutCursor took %d commits; want 1", got)
	}
}

// Cursors do not count against MaxBytes: a queue full of control records
// still takes them, and the lanes' bytes do not move.
func TestCursorOutsideTheByteCap(t *testing.T) {
	s, _ := openStore(t, outbox.Config{Settings: outbox.Settings{MaxBytes: 1 << 20}})
	big := strings.Repeat("x", 100<<10)
	var err error
	for i := 0; err == nil && i < 20; i++ {
		err = s.Append(context.Background(), ctl(big))
	}
	if !errors.Is(err, outbox.ErrFull) {
		t.Fatalf("filling with control records: %v; want ErrFull", err)
	}
	before := s.Stats()
	mustPutCursor(t, s, "p0", strings.Repeat("v", outbox.MaxCursorValue))
	after := s.Stats()
	if after.Control.Bytes != before.Control.Bytes || after.Control.Depth != before.Control.Depth || after.Dropped != before.Dropped {
		t.Errorf("PutCursor on a full store moved the records' accounting: %+v, then %+v", before, after)
	}
	if _, ok := cursor(t, s, "p0"); !ok {
		t.Error("the cursor put on a full store is not found")
	}
}

// Online compaction copies the file bucket by bucket: cursors come along.
func TestCursorSurvivesCompaction(t *testing.T) {
	cfg := outbox.Config{CompactMinBytes: 1}
	path := filepath.Join(t.TempDir(), "outbox.db")
	s, err := outbox.Open(path, cfg)
	if err != nil {
		t.Fatal(err)
	}
	mustPutCursor(t, s, "p0", "41")
	mustPutCursor(t, s, "p1", strings.Repeat("v", outbox.MaxCursorValue))
	mustPutCursor(t, s, "gone", "x")
	if err := s.DeleteCursor(context.Background(), "gone"); err != nil {
		t.Fatal(err)
	}
	// The queue drains, and the commit of the ack compacts (CompactMinBytes
	// is 1).
	before := s.Stats().Compactions
	mustAppend(t, s, ctl("answer"))
	s.Ack(ids(next(t, s, 10))...)
	pollUntil(t, 10*time.Second, func() string { return fmt.Sprintf("stats %+v", s.Stats()) },
		func() bool { return s.Stats().Compactions > before })
	check := func(when string) {
		t.Helper()
		if v, ok := cursor(t, s, "p0"); !ok || v != "41" {
			t.Errorf("%s: Cursor(p0) = %q, %v; want 41, true", when, v, ok)
		}
		if v, ok := cursor(t, s, "p1"); !ok || v != strings.Repeat("v", outbox.MaxCursorValue) {
			t.Errorf("%s: Cursor(p1) = %d bytes, %v; want its value", when, len(v), ok)
		}
		if _, ok := cursor(t, s, "gone"); ok {
			t.Errorf("%s: the deleted cursor is back", when)
		}
	}
	check("after compaction")
	mustPutCursor(t, s, "p0", "42")
	if v, _ := cursor(t, s, "p0"); v != "42" {
		t.Errorf("after compaction PutCursor(p0, 42) reads back %q", v)
	}
	mustPutCursor(t, s, "p0", "41")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path, cfg)
	check("after compaction and a restart")
}

// Cursors are live data: a drained queue beside many cursors must not
// make every commit compact the file, copying them each time; neither
// the 30 commits beside cursors that all stay, nor the burst of 200 puts
// before, whose commits (many small ones under qemu) let the file
// outgrow four times the cursors committed so far: compaction waits
// while writes are queued.
func TestCursorsDoNotTriggerCompactionOverAndOver(t *testing.T) {
	s, _ := openStore(t, outbox.Config{CompactMinBytes: 64 << 10})
	value := make([]byte, outbox.MaxCursorValue)
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			if err := s.PutCursor(context.Background(), fmt.Sprint("p", i), value); err != nil {
				t.Errorf("PutCursor(p%d) = %v", i, err)
			}
		})
	}
	wg.Wait()
	before := s.Stats().Compactions
	for i := range 30 {
		mustPutCursor(t, s, "p0", strconv.Itoa(i))
	}
	if all := s.Stats().Compactions; all > 1 {
		t.Errorf("%d compactions in all (%d in the burst, %d in the 30 commits after) while 200 KiB of cursors stayed; want at most 1",
			all, before, all-before)
	}
}

func TestDamagedCursorReadsAsAbsent(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(v []byte) []byte
	}{
		{"BitFlipInValue", func(v []byte) []byte { v[1] ^= 0x20; return v }},
		{"BitFlipInChecksum", func(v []byte) []byte { v[len(v)-1] ^= 0x01; return v }},
		{"Truncated", func(v []byte) []byte { return v[:2] }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "outbox.db")
			s, err := outbox.Open(path, outbox.Config{})
			if err != nil {
				t.Fatal(err)
			}
			mustPutCursor(t, s, "p0", "12345")
			mustPutCursor(t, s, "p1", "777")
			s.Close()
			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = db.Update(func(tx *bolt.Tx) error {
				b := tx.Bucket([]byte("cursors"))
				return b.Put([]byte("p0"), tc.damage(bytes.Clone(b.Get([]byte("p0")))))
			})
			db.Close()
			if err != nil {
				t.Fatal(err)
			}
			var logs syncbuf.Buffer
			s = openAt(t, path, outbox.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if v, ok := cursor(t, s, "p0"); ok {
				t.Errorf("a damaged cursor reads as %q; want it absent", v)
			}
			if got := logs.String(); !strings.Contains(got, "cursor fails its checksum") || !strings.Contains(got, "cursor=p0") {
				t.Errorf("log = %q; want the damaged cursor named", got)
			}
			if v, ok := cursor(t, s, "p1"); !ok || v != "777" {
				t.Errorf("Cursor(p1) beside the damaged one = %q, %v; want 777, true", v, ok)
			}
			mustPutCursor(t, s, "p0", "12346") // a put replaces the damage
			if v, ok := cursor(t, s, "p0"); !ok || v != "12346" {
				t.Errorf("after a new put Cursor(p0) = %q, %v; want 12346, true", v, ok)
			}
		})
	}
}

// A value stored under one name and read under another (a key that
// rotted into another name) fails the checksum, which covers the name.
func TestCursorChecksumCoversTheName(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	s, err := outbox.Open(path, outbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	mustPutCursor(t, s, "p0", "12345")
	s.Close()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("cursors"))
		return b.Put([]byte("p1"), bytes.Clone(b.Get([]byte("p0"))))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path, outbox.Config{})
	if v, ok := cursor(t, s, "p1"); ok {
		t.Errorf("p0's stored value reads under p1 as %q; want it absent", v)
	}
}

// The Kafka uplink answers a command, then moves its partition's cursor
// past it; after a restart it resumes from the cursor.
func ExampleStore_PutCursor() {
	dir, err := os.MkdirTemp("", "outbox-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	store, err := outbox.Open(filepath.Join(dir, "outbox.db"), outbox.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()

	ctx := context.Background()
	offset := int64(41) // of the command just run
	err = store.Append(ctx, outbox.Record{Lane: outbox.LaneControl, Topic: "device.responses", Payload: []byte(`{"ok":true}`)})
	if err != nil {
		fmt.Println(err)
		return
	}
	// Only once the response is durable does the cursor move past it.
	if err := store.PutCursor(ctx, "device.commands/0", binary.BigEndian.AppendUint64(nil, uint64(offset+1))); err != nil {
		fmt.Println(err)
		return
	}

	v, ok, err := store.Cursor("device.commands/0")
	if err != nil || !ok {
		fmt.Println("no cursor", err)
		return
	}
	fmt.Println("resume at offset", binary.BigEndian.Uint64(v))
	// Output:
	// resume at offset 42
}

// The cursor crash test: TestCursorCrash runs the test binary again as a
// child that puts cursors as fast as it can, from three goroutines, beside
// an appender and a drainer so that the puts share commits with records
// and the store compacts again and again (CompactMinBytes is 1); the
// parent kills it with SIGKILL (runCrashChild) and checks each cursor.

// cursorCrashMode is the OUTBOX_CRASH_MODE of the cursor crash child.
const cursorCrashMode = "cursor"

// cursorPutters is how many cursors the child puts, each from its own
// goroutine.
const cursorPutters = 3

// cursorCrashName is the name of cursor g.
func cursorCrashName(g int) string { return "device.commands/" + strconv.Itoa(g) }

// cursorCrashValue is the value of number n: its digits repeated to 200
// bytes, so that a torn value shows.
func cursorCrashValue(n uint64) []byte {
	s := strconv.FormatUint(n, 10) + ";"
	return []byte(strings.Repeat(s, 200/len(s)+1)[:200])
}

// parseCursorCrashValue returns the number of a value cursorCrashValue
// made, and false for any other value.
func parseCursorCrashValue(v []byte) (uint64, bool) {
	i := bytes.IndexByte(v, ';')
	if i < 0 {
		return 0, false
	}
	n, err := strconv.ParseUint(string(v[:i]), 10, 64)
	return n, err == nil && bytes.Equal(v, cursorCrashValue(n))
}

// cursorCrashChild puts cursor g of the store at path, with the numbers
// start+g, start+g+cursorPutters, ... one after the other, writing
// "N <n>" once PutCursor of n has returned nil; it prints "C <n>" when
// the store has compacted n times. It runs until it is killed, or a
// minute, and returns the exit code when something fails.
func cursorCrashChild(path string) int {
	start, err := strconv.ParseUint(os.Getenv(envCrashStart), 10, 64)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cursor crash child: start:", err)
		return 3
	}
	time.AfterFunc(time.Minute, func() {
		fmt.Fprintln(os.Stderr, "cursor crash child: not killed within a minute")
		os.Exit(4)
	})
	s, err := outbox.Open(path, outbox.Config{CompactMinBytes: 1})
	if err != nil {
		fmt.Fprintln(os.Stderr, "cursor crash child:", err)
		return 3
	}
	ctx := context.Background()
	var out crashOutput
	fail := make(chan error, 4)
	for g := range cursorPutters {
		go func() {
			for n := start + uint64(g); ; n += cursorPutters {
				if err := s.PutCursor(ctx, cursorCrashName(g), cursorCrashValue(n)); err != nil {
					fail <- err
					return
				}
				out.print('N', []uint64{n})
			}
		}()
	}
	go func() { // records to share commits with, drained so the store compacts
		for i := 0; ; i++ {
			compactions := s.Stats().Compactions
			if err := s.Append(ctx, ctl(strconv.Itoa(i))); err != nil {
				fail <- err
				return
			}
			for deadline := time.Now().Add(50 * time.Millisecond); s.Stats().Compactions == compactions && time.Now().Before(deadline); {
				time.Sleep(100 * time.Microsecond)
			}
		}
	}()
	go func() {
		for {
			es, err := s.Next(ctx, 64)
			if err != nil {
				fail <- err
				return
			}
			s.Ack(ids(es)...)
		}
	}()
	go out.compactions(s)
	err = <-fail
	fmt.Fprintln(os.Stderr, "cursor crash child:", err)
	return 2
}

// TestCursorCrash kills a child putting cursors with SIGKILL, again and
// again on the same file, and checks after each kill that every cursor
// holds, intact, the value of its last PutCursor that returned nil, or of
// the one under way at the kill (committed, but killed before it
// returned); never an older one, never none once one has returned. The
// kills are TestCrash's: -crash.kills (a fifth of them here), -crash.seed.
func TestCursorCrash(t *testing.T) {
	seed := *crashSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	kills := max(*crashKills/5, 10)
	t.Logf("%d kills; seed %d (replay with -crash.seed=%d)", kills, seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0x637572736f72))
	path := filepath.Join(t.TempDir(), "outbox.db")
	mode := crashMode{name: cursorCrashMode, compact: true} // runCrashChild waits for a compaction
	stored := make(map[int]uint64)                          // cursor -> number, after the previous kill
	from := uint64(1)
	began := time.Now()
	var printed, underWay, midCompaction int
	var compactions uint64
	for round := range kills {
		run := runCrashChild(t, path, mode, from, rng, nil)
		where := fmt.Sprintf("kill %d (after %d numbers and %v; child put from %d)", round+1, run.threshold, run.delay, from)
		if len(run.other) > 0 {
			t.Logf("%s: the child printed %d unexpected lines, first %q", where, len(run.other), run.other[0])
		}
		if _, err := os.Stat(path + ".compact"); err == nil {
			midCompaction++
		}
		// The last number each cursor's PutCursor returned for.
		returned := make(map[int]uint64)
		last := from - 1
		for _, n := range run.appended {
			if n < from {
				t.Fatalf("%s: the child printed %d, below its start", where, n)
			}
			g := int((n - from) % cursorPutters)
			if prev, ok := returned[g]; ok && n != prev+cursorPutters {
				t.Fatalf("%s: the child printed %d for cursor %d after %d", where, n, g, prev)
			}
			returned[g] = n
			last = max(last, n)
		}
		s, err := outbox.Open(path, outbox.Config{})
		if err != nil {
			t.Fatalf("%s: Open: %v", where, err)
		}
		if aside := movedAside(t, path); len(aside) > 0 {
			s.Close()
			t.Fatalf("%s: Open moved the file aside: %v", where, aside)
		}
		for g := range cursorPutters {
			// The values the cursor may hold: the last returned, and the
			// next, under way at the kill.
			lastN, have := returned[g]
			nextN := from + uint64(g)
			if have {
				nextN = lastN + cursorPutters
			} else {
				lastN, have = stored[g]
			}
			v, ok, err := s.Cursor(cursorCrashName(g))
			switch n, intact := parseCursorCrashValue(v); {
			case err != nil:
				t.Errorf("%s: Cursor(%d) = %v", where, g, err)
			case !ok && have:
				t.Errorf("%s: cursor %d is gone; its last PutCursor to return put %d", where, g, lastN)
			case !ok:
				// Nothing put yet: the first put was under way.
			case !intact:
				t.Errorf("%s: cursor %d holds %q, not a value the child put", where, g, v)
			case n == nextN:
				underWay++
				fallthrough
			case have && n == lastN:
				stored[g] = n
				last = max(last, n)
			default:
				t.Errorf("%s: cursor %d holds %d; want %d (its last PutCursor to return; have %v) or %d (under way)", where, g, n, lastN, have, nextN)
			}
		}
		if st := s.Stats(); st.Quarantined != 0 || st.Dropped != (outbox.DropCounts{}) {
			t.Errorf("%s: %d quarantined, dropped %+v; want none", where, st.Quarantined, st.Dropped)
		}
		st := s.Stats()
		s.Ack(ids(drainExactly(t, s, st.Control.Depth+st.Telemetry.Depth, 256, 10*time.Second))...)
		if err := s.Close(); err != nil {
			t.Errorf("%s: Close: %v", where, err)
		}
		checkFile(t, path)
		if t.Failed() {
			t.Fatalf("%s: failed", where)
		}
		printed += len(run.appended)
		compactions += run.compactions
		from = last + 1
	}
	t.Logf("%d kills in %v; %d PutCursor returns printed, all checked; %d times a cursor held the put under way at the kill; %d kills left a compaction's temporary file, %d compactions reported",
		kills, time.Since(began).Round(time.Millisecond), printed, underWay, midCompaction, compactions)
}
