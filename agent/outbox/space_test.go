package outbox_test

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/outbox"
)

// spacePayload is the payload of telemetry reading i: 1 KiB.
func spacePayload(i int) string {
	p := fmt.Sprintf("SPACE-%08d-", i)
	return p + strings.Repeat("t", 1024-len(p))
}

// spaceIndex returns i of spacePayload(i).
func spaceIndex(t *testing.T, payload []byte) int {
	t.Helper()
	if len(payload) < 14 || string(payload[:6]) != "SPACE-" {
		t.Fatalf("payload %.20q is not a reading", payload)
	}
	i, err := strconv.Atoi(string(payload[6:14]))
	if err != nil {
		t.Fatalf("payload %.20q: %v", payload, err)
	}
	return i
}

// TestSpaceCapThenCompaction fills the store far past its cap with
// telemetry (an uplink outage): the oldest readings are dropped and
// counted, the file stays bounded. Then the uplink drains everything,
// the store compacts the file online, and still works, also after a
// reopen.
func TestSpaceCapThenCompaction(t *testing.T) {
	cfg := outbox.Config{Settings: outbox.Settings{MaxBytes: 2 << 20}, CompactMinBytes: 1 << 20}
	path := filepath.Join(t.TempDir(), "outbox.db")
	s := openAt(t, path, cfg)

	// Fill: four times the cap, in Appends of 64 readings.
	const batch = 64
	total := int(4 * cfg.MaxBytes / 1024)
	var peak, appendedBytes int64
	for i := 0; i < total; i += batch {
		recs := make([]outbox.Record, batch)
		for j := range recs {
			recs[j] = tel(spacePayload(i + j))
			appendedBytes += int64(len(recs[j].Payload))
		}
		mustAppend(t, s, recs...)
		st := s.Stats()
		peak = max(peak, st.FileSize)
		switch {
		case st.Telemetry.Bytes > int64(cfg.MaxBytes):
			t.Fatalf("after %d readings: %d bytes stored, over the cap of %d", i+batch, st.Telemetry.Bytes, int64(cfg.MaxBytes))
		case st.FileSize >= 4*int64(cfg.MaxBytes):
			t.Fatalf("after %d readings: the file has %d bytes, 4 times the cap is %d", i+batch, st.FileSize, 4*int64(cfg.MaxBytes))
		case appendedBytes > int64(cfg.MaxBytes) && st.Dropped.Cap == 0:
			t.Fatalf("after %d readings (%d bytes of payload): nothing dropped; stats %+v", i+batch, appendedBytes, st)
		}
	}
	st := s.Stats()
	t.Logf("after %d readings of 1 KiB: %d stored (%d bytes), %d dropped for the cap; file %d bytes, peak %d",
		total, st.Telemetry.Depth, st.Telemetry.Bytes, st.Dropped.Cap, st.FileSize, peak)
	if st.Dropped.Refused != 0 || st.Dropped.Expired != 0 || st.Quarantined != 0 {
		t.Errorf("only drops for the cap expected: %+v, %d quarantined", st.Dropped, st.Quarantined)
	}
	if st.Telemetry.Depth+int(st.Dropped.Cap) != total {
		t.Errorf("%d stored + %d dropped != %d appended", st.Telemetry.Depth, st.Dropped.Cap, total)
	}

	// Drain: what is left is the newest readings, each once.
	depth := st.Telemetry.Depth
	es := drainExactly(t, s, depth, 256, 30*time.Second)
	expectNoEntry(t, s, 100*time.Millisecond)
	seen := make(map[int]bool, depth)
	for _, e := range es {
		i := spaceIndex(t, e.Payload)
		if i < total-depth || i >= total || seen[i] || string(e.Payload) != spacePayload(i) {
			t.Fatalf("drained reading %d (%d bytes); want each of the newest %d of %d once, intact", i, len(e.Payload), depth, total)
		}
		seen[i] = true
	}
	s.Ack(ids(es)...)

	// Compaction: once the acks commit, the writer finds the queue empty
	// and the file large.
	pollUntil(t, 10*time.Second, func() string { return fmt.Sprintf("stats %+v, peak %d", s.Stats(), peak) }, func() bool {
		st := s.Stats()
		return st.Compactions > 0 && st.FileSize < peak/4
	})
	st = s.Stats()
	t.Logf("compacted %d times: file %d bytes, peak %d", st.Compactions, st.FileSize, peak)
	if st.Telemetry.Depth != 0 || st.InFlight != 0 {
		t.Errorf("after the drain: %+v", st)
	}

	// The store works after compaction: IDs go on, both lanes drain.
	var lastID outbox.ID
	for _, e := range es {
		lastID = max(lastID, e.ID)
	}
	var more []outbox.Record
	for i := range 100 {
		if i%2 == 0 {
			more = append(more, ctl(fmt.Sprintf("after %d", i)))
		} else {
			more = append(more, tel(fmt.Sprintf("after %d", i)))
		}
	}
	for i := 0; i < len(more); i += 10 {
		mustAppend(t, s, more[i:i+10]...)
	}
	es = drainExactly(t, s, len(more), 32, 10*time.Second)
	got := make(map[string]bool)
	for _, e := range es {
		if e.ID <= lastID {
			t.Errorf("entry %q has ID %d, not above %d, the last before compaction", e.Payload, e.ID, lastID)
		}
		got[string(e.Payload)] = true
	}
	for _, r := range more {
		if !got[string(r.Payload)] {
			t.Errorf("%q appended after compaction was not handed out", r.Payload)
		}
	}
	s.Ack(ids(es)...)
	pollUntil(t, 5*time.Second, func() string { return fmt.Sprintf("stats %+v", s.Stats()) }, func() bool {
		st := s.Stats()
		return st.Control.Depth+st.Telemetry.Depth == 0
	})
	dropped := s.Stats().Dropped
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	checkFile(t, path)

	// And the compacted file reopens, with its counters.
	s = openAt(t, path, cfg)
	st = s.Stats()
	if st.Control.Depth+st.Telemetry.Depth != 0 || st.Dropped != dropped {
		t.Errorf("after reopening: depth %d+%d, dropped %+v; want empty, dropped %+v", st.Control.Depth, st.Telemetry.Depth, st.Dropped, dropped)
	}
	mustAppend(t, s, tel(spacePayload(total)))
	es = next(t, s, 10)
	if len(es) != 1 || string(es[0].Payload) != spacePayload(total) || es[0].ID <= lastID {
		t.Fatalf("after reopening: handed out %d entries, first ID %d; want the new reading with an ID above %d", len(es), es[0].ID, lastID)
	}
	s.Ack(ids(es)...)
}

// TestCompactionUnderSteadyTraffic drains a backlog while live telemetry
// goes on: the newest reading is always on its way to the broker and the
// next one queued, so the queue is never wholly empty. The file, grown by
// the backlog, must be compacted all the same, and the readings in flight
// and queued across the compaction must come out and go once acked.
func TestCompactionUnderSteadyTraffic(t *testing.T) {
	cfg := outbox.Config{Settings: outbox.Settings{MaxBytes: 8 << 20}, CompactMinBytes: 1 << 20}
	path := filepath.Join(t.TempDir(), "outbox.db")
	s := openAt(t, path, cfg)
	const backlog = 3000 // of 1 KiB readings: 3 MiB
	for i := 0; i < backlog; i += 100 {
		recs := make([]outbox.Record, 100)
		for j := range recs {
			recs[j] = tel(spacePayload(i + j))
		}
		mustAppend(t, s, recs...)
	}
	peak := s.Stats().FileSize
	es := drainExactly(t, s, backlog, 256, 30*time.Second)
	live := es[len(es)-1] // the newest, still on its way
	s.Ack(ids(es[:len(es)-1])...)
	mustAppend(t, s, tel(spacePayload(backlog))) // and the next, queued

	pollUntil(t, 10*time.Second, func() string { return fmt.Sprintf("stats %+v, peak %d", s.Stats(), peak) }, func() bool {
		st := s.Stats()
		return st.Compactions > 0 && st.FileSize < peak/4
	})
	st := s.Stats()
	t.Logf("compacted with %d in flight and %d queued: file %d bytes, peak %d", st.InFlight, st.Telemetry.Depth, st.FileSize, peak)
	if st.InFlight != 1 || st.Telemetry.Depth != 2 {
		t.Fatalf("after compaction: %d in flight, depth %d; want the reading in flight and the one queued", st.InFlight, st.Telemetry.Depth)
	}

	s.Ack(live.ID)
	es = next(t, s, 10)
	if len(es) != 1 || string(es[0].Payload) != spacePayload(backlog) {
		t.Fatalf("after compaction: handed out %q; want the queued reading", payloads(es))
	}
	s.Ack(es[0].ID)
	pollUntil(t, 5*time.Second, func() string { return fmt.Sprintf("stats %+v", s.Stats()) }, func() bool {
		st := s.Stats()
		return st.Telemetry.Depth == 0 && st.InFlight == 0
	})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	checkFile(t, path)
	s = openAt(t, path, cfg)
	if st := s.Stats(); st.Telemetry.Depth+st.Control.Depth != 0 {
		t.Errorf("after reopening: depth %d+%d; want the acked readings gone, none sent again", st.Control.Depth, st.Telemetry.Depth)
	}
}
