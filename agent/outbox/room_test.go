package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/internal/clocktest"
	"github.com/iot-hub/agent/internal/smallfs"
	"github.com/iot-hub/agent/internal/syncbuf"
)

// TestFullDiskStillCommitsControl fills the disk under a store with
// telemetry waiting: a hundred answers to commands, with their memos,
// more than the file's free pages hold, are still stored, in the room the
// store kept in reserve; then everything drains and the acks commit, the
// disk still full.
func TestFullDiskStillCommitsControl(t *testing.T) {
	dir := smallfs.Mount(t, 4<<20)
	s := openAt(t, filepath.Join(dir, "outbox.db"), outbox.Config{})
	for i := range 20 {
		mustAppend(t, s, tel(spacePayload(i)))
	}
	smallfs.Fill(t, filepath.Join(dir, "filler"))

	answer := strings.Repeat("a", 2<<10)
	const answers = 100 // 400 KiB with their memos
	for i := range answers {
		m := outbox.Memo{Key: fmt.Sprintf("rpc/%d", i), Value: []byte(answer)}
		if err := s.AppendMemo(context.Background(), m, ctl(fmt.Sprintf("answer %d %s", i, answer))); err != nil {
			t.Fatalf("AppendMemo %d on the full disk = %v; want it stored", i, err)
		}
	}
	es := drainExactly(t, s, answers+20, 64, 10*time.Second)
	for i, e := range es {
		want := spacePayload(i - answers)
		if i < answers {
			want = fmt.Sprintf("answer %d %s", i, answer)
		}
		if string(e.Payload) != want {
			t.Fatalf("entry %d is %.30q; want %.30q: the answers, then the readings stored before the disk filled", i, e.Payload, want)
		}
	}
	s.Ack(ids(es)...)
	pollUntil(t, 10*time.Second, func() string { return fmt.Sprintf("stats %+v", s.Stats()) }, func() bool {
		st := s.Stats()
		return st.Control.Depth+st.Telemetry.Depth == 0 && st.Err == nil
	})
	if v, ok, err := s.Memo(fmt.Sprintf("rpc/%d", answers-1)); err != nil || !ok || string(v) != answer {
		t.Errorf("the last memo stored on the full disk: %d bytes, %v, %v; want the answer", len(v), ok, err)
	}
}

// TestFullDiskRefusesTelemetry fills the disk: telemetry is refused with
// ErrNoSpace, at once and counted, the condition logged once, then once a
// minute, while control records still go in; once the disk has room
// again, telemetry does too, and the reserve is back.
func TestFullDiskRefusesTelemetry(t *testing.T) {
	dir := smallfs.Mount(t, 4<<20)
	path := filepath.Join(dir, "outbox.db")
	reserve := path + ".reserve"
	clock := clocktest.New(clocktest.Start)
	var logs syncbuf.Buffer
	const reserveBytes = 256 << 10
	s := openAt(t, path, outbox.Config{ReserveBytes: reserveBytes, Clock: clock, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if fi, err := os.Stat(reserve); err != nil || fi.Size() != reserveBytes {
		t.Fatalf("reserve after Open: %v; want %d bytes", err, reserveBytes)
	}
	filler := filepath.Join(dir, "filler")
	smallfs.Fill(t, filler)

	// Telemetry fills what the file had free, and finds the disk full.
	stored := 0
	var err error
	for ; stored < 10000; stored++ {
		if err = s.Append(context.Background(), tel(spacePayload(stored))); err != nil {
			break
		}
	}
	if !errors.Is(err, outbox.ErrNoSpace) || !strings.Contains(err.Error(), "no space left on device") {
		t.Fatalf("Append after %d readings on the full disk = %v; want ErrNoSpace, saying why", stored, err)
	}
	if _, err := os.Stat(reserve); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("reserve with the disk full: %v; want it deleted", err)
	}
	const refusals = 100
	for i := range refusals {
		if err := s.Append(context.Background(), tel("refused")); !errors.Is(err, outbox.ErrNoSpace) {
			t.Fatalf("Append %d on the full disk = %v; want ErrNoSpace", i, err)
		}
	}
	mustAppend(t, s, ctl("answer")) // in the reserve's room
	if st := s.Stats(); st.Dropped.Refused != refusals+1 {
		t.Errorf("Stats.Dropped.Refused = %d; want %d", st.Dropped.Refused, refusals+1)
	}
	if n := strings.Count(logs.String(), `"msg":"outbox: disk full`); n != 1 || !strings.Contains(logs.String(), path+": no space left on device") {
		t.Errorf("%d lines that the disk is full, naming %s: want 1:\n%s", n, path, logs.String())
	}

	// A minute later, one line more, with the count.
	clock.Advance(time.Minute)
	if err := s.Append(context.Background(), tel("refused")); !errors.Is(err, outbox.ErrNoSpace) {
		t.Fatalf("Append a minute later = %v; want ErrNoSpace", err)
	}
	if n := strings.Count(logs.String(), `"msg":"outbox: disk still full"`); n != 1 || !strings.Contains(logs.String(), `"refused":101`) {
		t.Errorf("%d lines that the disk is still full, with 101 refused: want 1:\n%s", n, logs.String())
	}

	// Room again: found by the next commit, once the probe is due.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	mustAppend(t, s, tel("after"))
	if !strings.Contains(logs.String(), `"msg":"outbox: disk has room again; telemetry is accepted"`) {
		t.Errorf("log lacks the room found again:\n%s", logs.String())
	}
	if fi, err := os.Stat(reserve); err != nil || fi.Size() != reserveBytes {
		t.Errorf("reserve after the room came back: %v; want %d bytes", err, reserveBytes)
	}
	es := drainExactly(t, s, stored+2, 64, 10*time.Second)
	if got := string(es[0].Payload); got != "answer" {
		t.Errorf("first entry %q; want the answer", got)
	}
	for i, e := range es[1 : stored+1] {
		if string(e.Payload) != spacePayload(i) {
			t.Fatalf("reading %d is %.20q; want %.20q", i, e.Payload, spacePayload(i))
		}
	}
	if got := string(es[stored+1].Payload); got != "after" {
		t.Errorf("last entry %q; want the reading after the room came back", got)
	}
	s.Ack(ids(es)...)
}

// TestFullDiskTelemetryInFreePages: a backlog drained on a full disk
// leaves its pages free in the file; telemetry goes there, the disk still
// full, as long as a reserve's worth stays free for control records.
func TestFullDiskTelemetryInFreePages(t *testing.T) {
	dir := smallfs.Mount(t, 8<<20)
	var logs syncbuf.Buffer
	s := openAt(t, filepath.Join(dir, "outbox.db"), outbox.Config{ReserveBytes: 256 << 10, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	const backlog = 1024 // 1 MiB of readings
	for i := 0; i < backlog; i += 64 {
		recs := make([]outbox.Record, 64)
		for j := range recs {
			recs[j] = tel(spacePayload(i + j))
		}
		mustAppend(t, s, recs...)
	}
	smallfs.Fill(t, filepath.Join(dir, "filler"))
	n := backlog
	for ; n < backlog+10000; n++ {
		if err := s.Append(context.Background(), tel(spacePayload(n))); err != nil {
			if !errors.Is(err, outbox.ErrNoSpace) {
				t.Fatalf("Append on the full disk = %v; want ErrNoSpace", err)
			}
			break
		}
	}
	es := drainExactly(t, s, n, 256, 10*time.Second)
	s.Ack(ids(es)...)
	// Until the deletes commit, their pages are not free.
	pollUntil(t, 10*time.Second, func() string { return fmt.Sprintf("stats %+v", s.Stats()) }, func() bool {
		st := s.Stats()
		return st.Telemetry.Bytes == 0 && st.Err == nil
	})

	for i := range 100 {
		if err := s.Append(context.Background(), tel(spacePayload(i))); err != nil {
			t.Fatalf("Append %d into the drained backlog's pages = %v; want it stored", i, err)
		}
	}
	if strings.Contains(logs.String(), "room again") {
		t.Fatalf("the store found room on the full disk:\n%s", logs.String())
	}
	es = drainExactly(t, s, 100, 256, 10*time.Second)
	s.Ack(ids(es)...)
}

// TestFullDiskCompactionWaits: a file grown by a backlog, drained with
// the disk full, is worth compacting, but the copy finds no room. The
// store has room all the same (the telemetry goes into the drained
// pages), so every commit would try the copy again, filling the disk's
// last bytes and logging a line each time: it tries again a minute after
// a failure, not before, and compacts once the disk has room.
func TestFullDiskCompactionWaits(t *testing.T) {
	dir := smallfs.Mount(t, 8<<20)
	clock := clocktest.New(clocktest.Start)
	var logs syncbuf.Buffer
	s := openAt(t, filepath.Join(dir, "outbox.db"), outbox.Config{ReserveBytes: 256 << 10, CompactMinBytes: 1 << 20, Clock: clock, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	const backlog = 2048 // 2 MiB of readings
	for i := 0; i < backlog; i += 64 {
		recs := make([]outbox.Record, 64)
		for j := range recs {
			recs[j] = tel(spacePayload(i + j))
		}
		mustAppend(t, s, recs...)
	}
	es := drainExactly(t, s, backlog, 256, 10*time.Second)
	// Half acked before the disk fills, the queue still too long to
	// compact; the rest after, with the disk full.
	s.Ack(ids(es[:backlog/2])...)
	pollUntil(t, 10*time.Second, func() string { return fmt.Sprintf("stats %+v", s.Stats()) }, func() bool {
		return s.Stats().Telemetry.Depth == backlog/2
	})
	filler := filepath.Join(dir, "filler")
	smallfs.Fill(t, filler)
	s.Ack(ids(es[backlog/2:])...)
	pollUntil(t, 10*time.Second, func() string { return fmt.Sprintf("stats %+v", s.Stats()) }, func() bool {
		return s.Stats().Telemetry.Depth == 0
	})
	const appends = 50
	for i := range appends {
		mustAppend(t, s, tel(spacePayload(i)))
	}
	const msg = `"msg":"outbox: compaction failed`
	if n := strings.Count(logs.String(), msg); n != 1 || !strings.Contains(logs.String(), "no space left on device") {
		t.Fatalf("%d commits on the full disk: %d lines that compaction failed; want 1, saying why:\n%s", appends, n, logs.String())
	}
	if strings.Contains(logs.String(), "disk full") {
		t.Fatalf("the store was short of room; the test needs it not to be:\n%s", logs.String())
	}

	// Room again: the next commit a minute later compacts.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, tel(spacePayload(appends)))
	if st := s.Stats(); st.Compactions != 0 {
		t.Fatalf("compacted %d times within the minute after a failure; want none", st.Compactions)
	}
	clock.Advance(time.Minute)
	mustAppend(t, s, tel(spacePayload(appends+1)))
	pollUntil(t, 10*time.Second, func() string { return fmt.Sprintf("a minute later, with room: stats %+v", s.Stats()) }, func() bool {
		return s.Stats().Compactions == 1
	})
	if n := strings.Count(logs.String(), msg); n != 1 {
		t.Errorf("%d lines that compaction failed; want still 1:\n%s", n, logs.String())
	}
	es = drainExactly(t, s, appends+2, 256, 10*time.Second)
	s.Ack(ids(es)...)
}

// TestFullDiskProbesAfterClockSetBack: the clock set back (by NTP, say)
// while the disk is full must not stop the store from looking for room
// until the clock is back where it was: once the disk has room, the next
// commit after the probe interval finds it.
func TestFullDiskProbesAfterClockSetBack(t *testing.T) {
	dir := smallfs.Mount(t, 4<<20)
	clock := clocktest.New(clocktest.Start)
	s := openAt(t, filepath.Join(dir, "outbox.db"), outbox.Config{ReserveBytes: 256 << 10, Clock: clock})
	filler := filepath.Join(dir, "filler")
	smallfs.Fill(t, filler)
	stored := 0
	for ; stored < 10000; stored++ {
		if err := s.Append(context.Background(), tel(spacePayload(stored))); err != nil {
			if !errors.Is(err, outbox.ErrNoSpace) {
				t.Fatalf("Append on the full disk = %v; want ErrNoSpace", err)
			}
			break
		}
	}

	clock.Advance(-time.Hour)
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	if err := s.Append(context.Background(), tel("after")); err != nil {
		t.Fatalf("Append with room again, a minute after the clock was set back an hour = %v; want it stored", err)
	}
	es := drainExactly(t, s, stored+1, 256, 10*time.Second)
	s.Ack(ids(es)...)
}

// TestFullDiskReopen: the agent restarted with the disk still full. The
// store starts, still short of room: it does not take back the room it
// gave away, which would only fail the next commit that needs it again,
// and the answers to commands still go in. Once the disk has room, the
// reserve is back.
func TestFullDiskReopen(t *testing.T) {
	dir := smallfs.Mount(t, 4<<20)
	path := filepath.Join(dir, "outbox.db")
	reserve := path + ".reserve"
	cfg := outbox.Config{ReserveBytes: 256 << 10}
	s, err := outbox.Open(path, cfg)
	if err != nil {
		t.Fatal(err)
	}
	filler := filepath.Join(dir, "filler")
	smallfs.Fill(t, filler)
	for i := 0; ; i++ {
		if err := s.Append(context.Background(), tel(spacePayload(i))); err != nil {
			if !errors.Is(err, outbox.ErrNoSpace) {
				t.Fatalf("Append on the full disk = %v; want ErrNoSpace", err)
			}
			break
		}
	}
	mustAppend(t, s, ctl("answer before"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	for round := range 3 {
		s, err := outbox.Open(path, cfg)
		if err != nil {
			t.Fatalf("Open %d on the full disk = %v; want the store", round, err)
		}
		if _, err := os.Stat(reserve); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Open %d on the full disk: reserve %v; want none: the room it gave away stays free", round, err)
		}
		mustAppend(t, s, ctl(fmt.Sprint("answer ", round)))
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path, cfg)
	mustAppend(t, s, tel("after"))
	if fi, err := os.Stat(reserve); err != nil || fi.Size() != cfg.ReserveBytes {
		t.Errorf("reserve once the disk has room: %v; want %d bytes", err, cfg.ReserveBytes)
	}
	es := drainAll(t, s)
	if got := payloads(es); len(got) < 5 || got[0] != "answer before" || got[3] != "answer 2" || got[len(got)-1] != "after" {
		t.Errorf("entries %.60q; want the four answers first, the reading after the room came back last", got)
	}
	s.Ack(ids(es)...)
}
