package outbox_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/outbox"
)

// rotPayload is the payload of record i of the bit-rot test: 100 bytes
// that start with a text found nowhere else in the file.
func rotPayload(i int) []byte {
	p := fmt.Appendf(nil, "ROT-%06d-", i)
	return append(p, bytes.Repeat([]byte{'x'}, 100-len(p))...)
}

// rotRecord is record i of the bit-rot test; every third one is control.
func rotRecord(i int) outbox.Record {
	if i%3 == 0 {
		return outbox.Record{Lane: outbox.LaneControl, Topic: "rot/control", Key: []byte("rot"), Payload: rotPayload(i)}
	}
	return outbox.Record{Lane: outbox.LaneTelemetry, Topic: "rot/telemetry", Key: []byte("rot"), Payload: rotPayload(i)}
}

// TestBitRotIsQuarantined flips a byte inside the payloads of a few
// records in the closed file, as a failing SD card would: bbolt does not
// notice (it checksums only its meta pages), the store must. The file is
// not moved aside, the damaged records are quarantined instead of handed
// out, every other record comes out intact, and the count survives a
// reopen.
func TestBitRotIsQuarantined(t *testing.T) {
	const n = 300
	damaged := []int{0, 7, 150, 151, n - 1} // first, last, neighbours, both lanes
	path := filepath.Join(t.TempDir(), "outbox.db")

	s := openAt(t, path, outbox.Config{})
	for i := 0; i < n; i += 10 { // several commits: pages are rewritten
		recs := make([]outbox.Record, 10)
		for j := range recs {
			recs[j] = rotRecord(i + j)
		}
		mustAppend(t, s, recs...)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	copies := 0
	for _, i := range damaged {
		marker := fmt.Appendf(nil, "ROT-%06d-", i)
		found := 0
		// Copy-on-write leaves stale copies in free pages; flip them all,
		// since which one is live is bbolt's business.
		for off := 0; ; {
			k := bytes.Index(data[off:], marker)
			if k < 0 {
				break
			}
			at := off + k + 50 // in the middle of the 100 bytes
			data[at] ^= 0x20   // 'x' becomes 'X'
			found++
			off += k + len(marker)
		}
		if found == 0 {
			t.Fatalf("payload of record %d not found in the file", i)
		}
		copies += found
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Logf("flipped a byte in %d copies of %d payloads", copies, len(damaged))

	s = openAt(t, path, outbox.Config{})
	if aside := movedAside(t, path); len(aside) > 0 {
		t.Fatalf("Open moved the file with rotten records aside: %v", aside)
	}
	if st := s.Stats(); st.Control.Depth+st.Telemetry.Depth != n || st.Quarantined != 0 {
		t.Fatalf("after reopening: depth %d+%d, %d quarantined; want %d records, none quarantined yet", st.Control.Depth, st.Telemetry.Depth, st.Quarantined, n)
	}
	es := drainExactly(t, s, n-len(damaged), 64, 10*time.Second)
	expectNoEntry(t, s, 200*time.Millisecond)
	seen := make(map[int]bool)
	for _, e := range es {
		i, err := strconv.Atoi(string(e.Payload[4:10]))
		if err != nil {
			t.Fatalf("entry %d: payload %q", e.ID, e.Payload)
		}
		want := rotRecord(i)
		switch {
		case slices.Contains(damaged, i):
			t.Errorf("damaged record %d was handed out: %q", i, e.Payload)
		case seen[i]:
			t.Errorf("record %d handed out twice", i)
		case !bytes.Equal(e.Payload, want.Payload) || e.Lane != want.Lane || e.Topic != want.Topic || !bytes.Equal(e.Key, want.Key):
			t.Errorf("record %d came out as %v %q %q %q; want %v %q %q %q", i, e.Lane, e.Topic, e.Key, e.Payload, want.Lane, want.Topic, want.Key, want.Payload)
		}
		seen[i] = true
	}
	s.Ack(ids(es)...)
	pollUntil(t, 5*time.Second, func() string { return fmt.Sprintf("stats %+v", s.Stats()) }, func() bool {
		st := s.Stats()
		return st.Quarantined == len(damaged) && st.Control.Depth+st.Telemetry.Depth == 0
	})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openAt(t, path, outbox.Config{})
	st := s.Stats()
	if st.Quarantined != len(damaged) || st.Control.Depth+st.Telemetry.Depth != 0 {
		t.Errorf("after a second reopen: %d quarantined, depth %d+%d; want %d quarantined, empty", st.Quarantined, st.Control.Depth, st.Telemetry.Depth, len(damaged))
	}
	expectNoEntry(t, s, 100*time.Millisecond)
	if aside := movedAside(t, path); len(aside) > 0 {
		t.Errorf("the file was moved aside: %v", aside)
	}
}

// fillStore makes a closed store at path holding n records, and returns
// them.
func fillStore(t *testing.T, path string, n int) []outbox.Record {
	t.Helper()
	s, err := outbox.Open(path, outbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var recs []outbox.Record
	for i := range n {
		r := tel(fmt.Sprintf("record %d %s", i, strings.Repeat("p", 200)))
		if i%4 == 0 {
			r = ctl(fmt.Sprintf("record %d", i))
		}
		recs = append(recs, r)
	}
	for b := range slices.Chunk(recs, 100) {
		mustAppend(t, s, b...)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return recs
}

// checkMovedAside checks that Open of path worked, on an empty store,
// after moving the file, which held want, aside; and that the new store
// works.
func checkMovedAside(t *testing.T, path string, want []byte) {
	t.Helper()
	s := openAt(t, path, outbox.Config{})
	aside := movedAside(t, path)
	if len(aside) != 1 || !strings.HasPrefix(aside[0], path+".corrupt-") {
		t.Fatalf("files moved aside: %v; want one named %s.corrupt-<time>", aside, path)
	}
	got, err := os.ReadFile(aside[0])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the file moved aside has %d bytes that differ from the %d the damaged file had", len(got), len(want))
	}
	if st := s.Stats(); st.Control.Depth+st.Telemetry.Depth != 0 || st.Quarantined != 0 {
		t.Errorf("the new store is not empty: %+v", st)
	}
	mustAppend(t, s, ctl("after"))
	es := next(t, s, 10)
	if len(es) != 1 || string(es[0].Payload) != "after" {
		t.Fatalf("the new store handed out %q; want [after]", payloads(es))
	}
	s.Ack(ids(es)...)
}

// TestTruncatedFileIsMovedAside truncates a closed store: to half its
// size, to its first page, and into its first page (where reading the
// second meta page faults). Each cut loses pages in use. Open must move
// the file aside, keep its bytes, and start empty.
func TestTruncatedFileIsMovedAside(t *testing.T) {
	for _, tc := range []struct {
		name string
		size func(file, used int64) int64
	}{
		{"half", func(file, _ int64) int64 { return file / 2 }},
		{"one page", func(int64, int64) int64 { return 4096 }},
		{"100 bytes", func(int64, int64) int64 { return 100 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "outbox.db")
			fillStore(t, path, 2000)
			file, used := fileSizeOf(t, path), boltHighWater(t, path)
			size := tc.size(file, used)
			t.Logf("file %d bytes, %d in use by bbolt; truncated to %d", file, used, size)
			if size >= used {
				t.Fatalf("truncating to %d would lose no page", size)
			}
			if err := os.Truncate(path, size); err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			checkMovedAside(t, path, want)
		})
	}
}

// TestGarbageFileIsMovedAside opens a file of random bytes, and a store
// whose pages after the meta pages are random: both are moved aside.
func TestGarbageFileIsMovedAside(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	garbage := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	t.Run("all", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "outbox.db")
		want := garbage(256 << 10)
		if err := os.WriteFile(path, want, 0o600); err != nil {
			t.Fatal(err)
		}
		checkMovedAside(t, path, want)
	})
	t.Run("after meta pages", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "outbox.db")
		fillStore(t, path, 2000)
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		copy(want[2*4096:], garbage(len(want)-2*4096))
		if err := os.WriteFile(path, want, 0o600); err != nil {
			t.Fatal(err)
		}
		checkMovedAside(t, path, want)
	})
}

// TestZeroLengthFileIsANewStore: an empty file (created, never written,
// as a crash right after creating it leaves) is not damage: Open makes it
// a new store in place and moves nothing aside.
func TestZeroLengthFileIsANewStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s := openAt(t, path, outbox.Config{})
	if aside := movedAside(t, path); len(aside) > 0 {
		t.Errorf("Open moved the empty file aside: %v", aside)
	}
	if st := s.Stats(); st.Control.Depth+st.Telemetry.Depth != 0 || st.FileSize == 0 {
		t.Errorf("stats of the new store: %+v", st)
	}
	mustAppend(t, s, ctl("first"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path, outbox.Config{})
	es := next(t, s, 10)
	if len(es) != 1 || string(es[0].Payload) != "first" {
		t.Fatalf("after a reopen: %q; want [first]", payloads(es))
	}
	s.Ack(ids(es)...)
}

// TestLockedFileIsNotMovedAside: a second Open of a file that is open
// fails within about two seconds, and leaves the file, and the first
// store, alone.
func TestLockedFileIsNotMovedAside(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	s := openAt(t, path, outbox.Config{})
	mustAppend(t, s, ctl("held"))

	start := time.Now()
	s2, err := outbox.Open(path, outbox.Config{})
	took := time.Since(start)
	if err == nil {
		s2.Close()
		t.Fatal("a second Open of an open store succeeded")
	}
	t.Logf("second Open failed after %v: %v", took.Round(time.Millisecond), err)
	if took > 2500*time.Millisecond {
		t.Errorf("the second Open took %v to fail; want about a second", took)
	}
	if aside := movedAside(t, path); len(aside) > 0 {
		t.Fatalf("the second Open moved the file aside: %v", aside)
	}

	es := next(t, s, 10)
	if len(es) != 1 || string(es[0].Payload) != "held" {
		t.Fatalf("the first store handed out %q; want [held]", payloads(es))
	}
	s.Release(ids(es)...)
	mustAppend(t, s, ctl("after"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path, outbox.Config{})
	es = drainExactly(t, s, 2, 10, 5*time.Second)
	if got := payloads(es); !slices.Equal(got, []string{"held", "after"}) {
		t.Errorf("after closing and reopening: %q; want [held after]", got)
	}
	s.Ack(ids(es)...)
}

// emfileMode is the OUTBOX_CRASH_MODE under which the crash child runs
// emfileChild.
const emfileMode = "emfile"

// emfileChild uses up its file descriptors, then opens the store at path
// with none free, then one, two, ... until Open succeeds, printing each
// outcome: whatever Open opens first, one of these attempts fails on the
// store file itself. The process has a hard limit of a few dozen
// descriptors (set by TestOpenFailureIsNotTreatedAsGarbage).
func emfileChild(path string) int {
	var held []*os.File
	for {
		f, err := os.Open(os.DevNull)
		if err != nil {
			break
		}
		held = append(held, f)
		if len(held) > 1000 {
			fmt.Println("no descriptor limit")
			return 3
		}
	}
	for free := 0; len(held) > 0; free++ {
		s, err := outbox.Open(path, outbox.Config{})
		if err == nil {
			s.Close()
			fmt.Printf("%d descriptors free: Open succeeded\n", free)
			return 0
		}
		fmt.Printf("%d descriptors free: %v\n", free, err)
		if _, err := os.Stat(path); err != nil {
			fmt.Printf("the store file is gone: %v\n", err)
			return 0
		}
		held[len(held)-1].Close()
		held = held[:len(held)-1]
	}
	return 0
}

// TestOpenFailureIsNotTreatedAsGarbage: an Open that fails for a reason
// other than damage, here a process out of file descriptors (EMFILE) when
// it opens the store file, must fail and leave the file where it is. The
// same holds for EACCES, or ENOMEM from mmap on a 32-bit board: the data
// is fine, only this attempt is not. Moving the file aside (as Open once
// did for every error but the lock timeout) throws the queue away at the
// next start.
func TestOpenFailureIsNotTreatedAsGarbage(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs sh and ulimit")
	}
	path := filepath.Join(t.TempDir(), "outbox.db")
	fillStore(t, path, 100)
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/bin/sh", "-c", `ulimit -n 32 && exec "$0"`, childBinary(t))
	cmd.Env = append(os.Environ(), envCrashChild+"="+path, envCrashMode+"="+emfileMode)
	out, err := cmd.CombinedOutput()
	t.Logf("child: %s", bytes.TrimSpace(out))
	if err != nil {
		t.Fatalf("child: %v", err)
	}
	if aside := movedAside(t, path); len(aside) > 0 {
		t.Errorf("an Open that could not get a file descriptor moved the intact file aside: %v", aside)
	}
	if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("the store file is gone or changed: %v", err)
	}
	s := openAt(t, path, outbox.Config{})
	if st := s.Stats(); st.Control.Depth+st.Telemetry.Depth != 100 {
		t.Errorf("after the failed Open, the store holds %d+%d records; want 100", st.Control.Depth, st.Telemetry.Depth)
	}
}

// compactLoopMode is the OUTBOX_CRASH_MODE under which the crash child runs
// compactLoopChild.
const compactLoopMode = "compact-loop"

// compactLoopChild keeps the store at path open and makes it compact over
// and over: it appends a record, acks it, and waits for the compaction
// that follows (CompactMinBytes is 1), printing "C <n>" after each. It
// runs until it is killed, or a minute.
func compactLoopChild(path string) int {
	time.AfterFunc(time.Minute, func() { os.Exit(4) })
	s, err := outbox.Open(path, outbox.Config{CompactMinBytes: 1})
	if err != nil {
		fmt.Fprintln(os.Stderr, "compact-loop child:", err)
		return 3
	}
	ctx := context.Background()
	for i := 0; ; i++ {
		before := s.Stats().Compactions
		if err := s.Append(ctx, tel(strconv.Itoa(i))); err != nil {
			fmt.Fprintln(os.Stderr, "compact-loop child:", err)
			return 2
		}
		es, err := s.Next(ctx, 10)
		if err != nil {
			fmt.Fprintln(os.Stderr, "compact-loop child:", err)
			return 2
		}
		s.Ack(ids(es)...)
		for s.Stats().Compactions == before {
			time.Sleep(100 * time.Microsecond)
		}
		fmt.Printf("C %d\n", s.Stats().Compactions)
	}
}

// TestLockedWhileCompacting: while one process has the store open and
// compacts it, a second Open of the file from another process must keep
// failing. Compaction closes the file (releasing bbolt's lock), renames
// the copy over it and opens it again; with only bbolt's lock, a second
// Open in that gap got the lock, and two stores ran on the file: one of
// them on the inode the rename unlinked, whose records vanished when it
// closed (or the first store's reopen timed out and panicked).
func TestLockedWhileCompacting(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs flock semantics")
	}
	path := filepath.Join(t.TempDir(), "outbox.db")
	cmd := exec.Command(childBinary(t))
	cmd.Env = append(os.Environ(), envCrashChild+"="+path, envCrashMode+"="+compactLoopMode)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	defer func() {
		cmd.Process.Kill()
		for range lines {
		}
		cmd.Wait()
	}()
	for range 3 { // the child compacts
		if _, ok := <-lines; !ok {
			cmd.Wait()
			t.Fatalf("the child ended: %s", stderr.Bytes())
		}
	}
	go func() { // keep the pipe flowing
		for range lines {
		}
	}()

	// Open waits a second for the lock, trying every 50 ms; eight at a
	// time try more often. Once the bug is fixed, this takes 3 s.
	for round := 1; round <= 3; round++ {
		type result struct {
			s   *outbox.Store
			err error
		}
		results := make(chan result, 8)
		for range cap(results) {
			go func() {
				s, err := outbox.Open(path, outbox.Config{})
				results <- result{s, err}
			}()
		}
		var second []*outbox.Store
		for range cap(results) {
			if r := <-results; r.err == nil {
				second = append(second, r.s)
			}
		}
		if len(second) == 0 {
			continue // all locked out, as they should be
		}
		// Show what it costs: a record the second store took.
		for _, s := range second {
			mustAppend(t, s, ctl("taken by the second store"))
			s.Close()
		}
		cmd.Process.Kill()
		cmd.Wait()
		s := openAt(t, path, outbox.Config{})
		st := s.Stats()
		kept := 0
		for _, e := range drainExactly(t, s, st.Control.Depth+st.Telemetry.Depth, 64, 5*time.Second) {
			if string(e.Payload) == "taken by the second store" {
				kept++
			}
		}
		t.Fatalf("round %d: %d of 8 Opens succeeded while another process had the store open and was compacting it; "+
			"each appended a record (Append returned nil) and closed; with both processes gone the store holds %d of them",
			round, len(second), kept)
	}
}

// TestLockedOpenLeavesCompactionFileAlone: a second Open that fails
// because the file is locked must not touch the files of the store that
// holds the lock. Open removes path.compact, the copy an interrupted
// compaction leaves; it once did so before taking the lock: when the store
// that holds it is compacting, that is its copy in the making, and its
// rename fails.
func TestLockedOpenLeavesCompactionFileAlone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	s := openAt(t, path, outbox.Config{})
	mustAppend(t, s, ctl("held"))
	// As the store holding the lock has it while it compacts.
	if err := os.WriteFile(path+".compact", []byte("a compaction under way"), 0o600); err != nil {
		t.Fatal(err)
	}
	if s2, err := outbox.Open(path, outbox.Config{}); err == nil {
		s2.Close()
		t.Fatal("a second Open of an open store succeeded")
	}
	if _, err := os.Stat(path + ".compact"); err != nil {
		t.Errorf("the second Open failed (locked) but removed %s.compact, which belongs to the store holding the lock: %v", path, err)
	}
	os.Remove(path + ".compact")
}

// TestRotInTopicNameIsCaught: records keep their topic as an id into the
// topics bucket; a bit flipped in a topic's name there is not covered by
// the records' checksums, and (before the names had a checksum of their
// own) every record of that topic was handed out for the wrong topic. A record must never be handed out with a topic it was not
// appended with: it must be quarantined (or the damage refused) instead.
func TestRotInTopicNameIsCaught(t *testing.T) {
	const topic = "rot/devices/gw-0123456789/telemetry"
	path := filepath.Join(t.TempDir(), "outbox.db")
	s := openAt(t, path, outbox.Config{})
	for i := range 10 {
		mustAppend(t, s, outbox.Record{Lane: outbox.LaneTelemetry, Topic: topic, Payload: []byte(strconv.Itoa(i))})
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Count(data, []byte(topic)) == 0 {
		t.Fatal("topic not found in the file")
	}
	// gw-0123456789 becomes gw-0123456788: another device's topic.
	data = bytes.ReplaceAll(data, []byte(topic), []byte(strings.Replace(topic, "9/", "8/", 1)))
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}

	s = openAt(t, path, outbox.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	wrong := 0
	for {
		es, err := s.Next(ctx, 64)
		if err != nil {
			break
		}
		for _, e := range es {
			if e.Topic != topic {
				wrong++
				if wrong == 1 {
					t.Errorf("record %q appended to %q is handed out for %q", e.Payload, topic, e.Topic)
				}
			}
		}
		s.Ack(ids(es)...)
	}
	if wrong > 0 {
		t.Fatalf("%d of 10 records handed out with a rotten topic, %d quarantined", wrong, s.Stats().Quarantined)
	}
	if aside := movedAside(t, path); len(aside) > 0 {
		return // refused as damage: fine too
	}
	pollUntil(t, 5*time.Second, func() string { return fmt.Sprintf("stats %+v", s.Stats()) }, func() bool {
		return s.Stats().Quarantined == 10
	})
}

// TestTruncatedFileIsReleased: once Open has moved a damaged file aside,
// the process must not keep it: not open, not mapped. When bolt.Open
// itself faults on a truncated file (reading its freelist page past the
// end), the fault can be recovered but the half-opened bbolt DB cannot be
// closed: its mapping stayed for the life of the process (and its file
// descriptor, with the lock, until a finalizer ran). On a 32-bit board
// that is the file's size of address space lost.
func TestTruncatedFileIsReleased(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc/self")
	}
	path := filepath.Join(t.TempDir(), "outbox.db")
	fillStore(t, path, 2000)
	if err := os.Truncate(path, fileSizeOf(t, path)/2); err != nil {
		t.Fatal(err)
	}
	openAt(t, path, outbox.Config{})
	aside := movedAside(t, path)
	if len(aside) != 1 {
		t.Fatalf("files moved aside: %v", aside)
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(maps)) {
		if strings.Contains(line, aside[0]) {
			t.Errorf("the file moved aside is still mapped: %s", strings.TrimSpace(line))
		}
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		if target, _ := os.Readlink("/proc/self/fd/" + fd.Name()); target == aside[0] {
			t.Errorf("the file moved aside is still open as descriptor %s", fd.Name())
		}
	}
}
