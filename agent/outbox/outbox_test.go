package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iot-hub/agent/internal/clocktest"

	"github.com/iot-hub/agent/agent/outbox"
)

func TestOrderControlBeforeTelemetry(t *testing.T) {
	s, _ := openStore(t, outbox.Config{})
	mustAppend(t, s, tel("t1"), tel("t2"))
	mustAppend(t, s, ctl("c1"))
	mustAppend(t, s, tel("t3"), ctl("c2"))
	es := next(t, s, 10)
	got := payloads(es)
	want := []string{"c1", "c2", "t1", "t2", "t3"}
	if !slices.Equal(got, want) {
		t.Errorf("Next(10) = %v; want %v", got, want)
	}
	for _, e := range es {
		if wantLane := map[byte]outbox.Lane{'c': outbox.LaneControl, 't': outbox.LaneTelemetry}[e.Payload[0]]; e.Lane != wantLane {
			t.Errorf("entry %s has lane %v; want %v", e.Payload, e.Lane, wantLane)
		}
	}
}

func TestWindowAndRelease(t *testing.T) {
	s, _ := openStore(t, outbox.Config{})
	for i := range 6 {
		mustAppend(t, s, tel(fmt.Sprint(i)))
	}
	first := next(t, s, 3)
	if got := payloads(first); !slices.Equal(got, []string{"0", "1", "2"}) {
		t.Fatalf("Next(3) = %v; want 0 1 2", got)
	}
	if got := payloads(next(t, s, 2)); !slices.Equal(got, []string{"3", "4"}) {
		t.Fatalf("second Next(2) = %v; want 3 4: entries in flight are not handed out twice", got)
	}
	s.Release(first[1].ID)
	if got := payloads(next(t, s, 2)); !slices.Equal(got, []string{"1", "5"}) {
		t.Errorf("Next after Release(1) = %v; want 1 first, then 5", got)
	}
	if st := s.Stats(); st.InFlight != 6 {
		t.Errorf("InFlight = %d; want 6", st.InFlight)
	}
}

func TestAckSurvivesRestartAndUnackedComesBack(t *testing.T) {
	path := t.TempDir() + "/outbox.db"
	s, err := outbox.Open(path, outbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, tel("a"), tel("b"), ctl("c"))
	es := next(t, s, 3) // c, a, b
	s.Ack(es[0].ID, es[1].ID)
	if err := s.Close(); err != nil { // Close commits pending acks
		t.Fatal(err)
	}
	s = openAt(t, path, outbox.Config{})
	if got := payloads(next(t, s, 10)); !slices.Equal(got, []string{"b"}) {
		t.Errorf("after restart Next = %v; want [b]: acked gone, handed-out-but-unacked handed out again", got)
	}
}

// Next hands entries out while their commit syncs, so an uplink may ack
// an entry before its Append has returned. Whichever comes first, the
// acked records are gone after a restart and the rest come back.
func TestAckRacingItsCommit(t *testing.T) {
	path := t.TempDir() + "/outbox.db"
	s, err := outbox.Open(path, outbox.Config{Settings: outbox.Settings{LiveShare: -1}})
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	acked := make(chan []string)
	go func() {
		var got []string
		for len(got) < n {
			es, err := s.Next(context.Background(), 8)
			if err != nil {
				t.Error(err)
				break
			}
			for _, e := range es {
				if len(got)%2 == 0 { // ack every other one
					s.Ack(e.ID)
				}
				got = append(got, string(e.Payload))
			}
			if d := s.Stats().Telemetry.Depth; d < 0 {
				t.Errorf("Stats().Telemetry.Depth = %d while acks race their commits", d)
			}
		}
		acked <- got
	}()
	for i := range n {
		mustAppend(t, s, tel(fmt.Sprint(i)))
	}
	got := <-acked
	var want []string
	for i := range n {
		want = append(want, fmt.Sprint(i))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("handed out %v; want 0..%d in order", got, n-1)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path, outbox.Config{Settings: outbox.Settings{LiveShare: -1}})
	var odd []string
	for i := 1; i < n; i += 2 {
		odd = append(odd, fmt.Sprint(i))
	}
	if got := payloads(next(t, s, n)); !slices.Equal(got, odd) {
		t.Errorf("after restart Next = %v; want the %d unacked ones, %v", got, len(odd), odd)
	}
}

// IDs are never given out twice, not even after a restart with an empty
// queue: an Ack arriving late must not hit a newer record.
func TestIDsAreNotReused(t *testing.T) {
	path := t.TempDir() + "/outbox.db"
	s, err := outbox.Open(path, outbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, tel("a"), tel("b"))
	es := next(t, s, 2)
	s.Ack(es[0].ID, es[1].ID)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path, outbox.Config{})
	mustAppend(t, s, tel("c"))
	if e := next(t, s, 1)[0]; e.ID <= es[1].ID {
		t.Errorf("after restart the new record has ID %d; want above %d, the last ID before", e.ID, es[1].ID)
	}
}

func TestRecordRoundTrip(t *testing.T) {
	clock := clocktest.New(clocktest.Start)
	s, _ := openStore(t, outbox.Config{Clock: clock})
	in := outbox.Record{
		Lane: outbox.LaneControl, Topic: "device.responses", Key: []byte("gw-0042"), Payload: []byte(`{"x":1}`),
		Headers: []outbox.Header{{Key: "eventType", Value: []byte("device.response.rpc")}, {Key: "empty", Value: nil}},
		Expiry:  clock.Now().Add(time.Hour),
		Retain:  true,
	}
	mustAppend(t, s, in)
	e := next(t, s, 1)[0]
	if e.Topic != in.Topic || string(e.Key) != "gw-0042" || string(e.Payload) != `{"x":1}` || e.Lane != in.Lane ||
		len(e.Headers) != 2 || e.Headers[0].Key != "eventType" || string(e.Headers[0].Value) != "device.response.rpc" ||
		!e.Expiry.Equal(in.Expiry) || !e.AppendedAt.Equal(clock.Now()) || !e.Retain {
		t.Errorf("Next = %+v; want %+v appended at %v", e, in, clock.Now())
	}
}

func TestAppendRefusesInvalidRecords(t *testing.T) {
	s, _ := openStore(t, outbox.Config{})
	for _, r := range []outbox.Record{
		{Lane: outbox.LaneTelemetry, Payload: []byte("no topic")},
		{Lane: 7, Topic: "t", Payload: []byte("bad lane")},
	} {
		if err := s.Append(context.Background(), r); !errors.Is(err, outbox.ErrInvalidRecord) {
			t.Errorf("Append(%+v) = %v; want ErrInvalidRecord", r, err)
		}
	}
}

func TestCapDropsOldestTelemetry(t *testing.T) {
	s, _ := openStore(t, outbox.Config{Settings: outbox.Settings{MaxBytes: 1 << 20}})
	payload := strings.Repeat("x", 1000)
	const n = 2000 // about 2 MiB: twice the cap
	for i := range n {
		mustAppend(t, s, tel(fmt.Sprintf("%05d%s", i, payload)))
	}
	st := s.Stats()
	if st.Dropped.Cap == 0 || st.Telemetry.Bytes > 1<<20 {
		t.Fatalf("Stats = %+v; want telemetry dropped and bytes under the cap", st)
	}
	if got := uint64(st.Telemetry.Depth) + st.Dropped.Cap; got != n {
		t.Errorf("depth %d + dropped %d = %d; want %d: every record is kept or counted", st.Telemetry.Depth, st.Dropped.Cap, got, n)
	}
	es := drainAll(t, s)
	if first := string(es[0].Payload[:5]); first != fmt.Sprintf("%05d", st.Dropped.Cap) {
		t.Errorf("oldest kept record = %s; want %05d: the oldest are dropped first", first, st.Dropped.Cap)
	}
	if last := string(es[len(es)-1].Payload[:5]); last != fmt.Sprintf("%05d", n-1) {
		t.Errorf("newest kept record = %s; want %05d", last, n-1)
	}
}

func TestCapNeverDropsControlOrInFlight(t *testing.T) {
	s, _ := openStore(t, outbox.Config{Settings: outbox.Settings{MaxBytes: 1 << 20}})
	big := strings.Repeat("c", 100<<10)
	mustAppend(t, s, tel("oldest"))
	inFlight := next(t, s, 1)
	var err error
	var stored int
	for stored = 0; stored < 20; stored++ {
		if err = s.Append(context.Background(), ctl(big)); err != nil {
			break
		}
	}
	if !errors.Is(err, outbox.ErrFull) {
		t.Fatalf("Append(control) over the cap = %v; want ErrFull", err)
	}
	if err := s.Append(context.Background(), tel(big)); !errors.Is(err, outbox.ErrFull) {
		t.Errorf("Append(telemetry) with only control and in-flight records = %v; want ErrFull", err)
	}
	st := s.Stats()
	if st.Control.Depth != stored || st.Telemetry.Depth != 1 || st.Dropped.Refused != 2 {
		t.Errorf("Stats = %+v; want %d control, the in-flight telemetry kept, 2 refused", st, stored)
	}
	if err := s.Append(context.Background(), ctl(strings.Repeat("x", 2<<20))); !errors.Is(err, outbox.ErrTooLarge) {
		t.Errorf("Append(record larger than the cap) = %v; want ErrTooLarge", err)
	}
	s.Ack(inFlight[0].ID)
}

func TestExpiredRecordsAreDroppedAndCounted(t *testing.T) {
	clock := clocktest.New(clocktest.Start)
	s, _ := openStore(t, outbox.Config{Clock: clock})
	soon := ctl("expires")
	soon.Expiry = clock.Now().Add(time.Minute)
	mustAppend(t, s, soon, ctl("stays"))
	clock.Advance(2 * time.Minute)
	if got := payloads(next(t, s, 10)); !slices.Equal(got, []string{"stays"}) {
		t.Errorf("Next = %v; want only the record that has not expired", got)
	}
	waitFor(t, "the expired record to be counted", func() bool {
		st := s.Stats()
		return st.Dropped.Expired == 1 && st.Control.Depth == 1
	})
}

func TestQuarantine(t *testing.T) {
	path := t.TempDir() + "/outbox.db"
	s, err := outbox.Open(path, outbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, ctl("too large for the broker"), ctl("fine"))
	es := next(t, s, 1)
	if err := s.Quarantine(es[0].ID, "broker: packet too large"); err != nil {
		t.Fatalf("Quarantine = %v", err)
	}
	if err := s.Quarantine(es[0].ID, "again"); !errors.Is(err, outbox.ErrUnknownID) {
		t.Errorf("Quarantine(not in flight) = %v; want ErrUnknownID", err)
	}
	if got := payloads(next(t, s, 10)); !slices.Equal(got, []string{"fine"}) {
		t.Errorf("Next after Quarantine = %v; want [fine]", got)
	}
	waitFor(t, "the quarantine to be committed", func() bool { return s.Stats().Quarantined == 1 })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path, outbox.Config{})
	if st := s.Stats(); st.Quarantined != 1 || st.Control.Depth != 1 {
		t.Errorf("after restart Stats = %+v; want 1 quarantined and 1 waiting", st)
	}
}

func TestLiveShareWhileBacklogDrains(t *testing.T) {
	for _, c := range []struct {
		name      string
		share     float64
		wantFresh int // fresh records in the second batch of 8
	}{
		{"default 0.25", 0, 2},
		{"half", 0.5, 4},
		{"off", -1, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, _ := openStore(t, outbox.Config{Settings: outbox.Settings{LiveShare: c.share}})
			backlog := make([]outbox.Record, 100)
			for i := range backlog {
				backlog[i] = tel(fmt.Sprintf("old-%03d", i))
			}
			mustAppend(t, s, backlog...)
			first := payloads(next(t, s, 8))
			if first[0] != "old-000" {
				t.Fatalf("first batch = %v; want the backlog from its start", first)
			}
			mustAppend(t, s, tel("fresh-1"), tel("fresh-2"), tel("fresh-3"), tel("fresh-4"), tel("fresh-5"))
			second := payloads(next(t, s, 8))
			fresh := 0
			for _, p := range second {
				if strings.HasPrefix(p, "fresh") {
					fresh++
				}
			}
			if fresh != c.wantFresh {
				t.Errorf("second batch = %v: %d fresh; want %d", second, fresh, c.wantFresh)
			}
			all := append(first, second...)
			all = append(all, payloads(drainAll(t, s))...)
			if len(all) != 105 {
				t.Errorf("handed out %d records; want all 105, each once", len(all))
			}
			seen := map[string]bool{}
			for _, p := range all {
				if seen[p] {
					t.Errorf("%s handed out twice", p)
				}
				seen[p] = true
			}
		})
	}
}

func TestNextBlocksUntilAppendAndClose(t *testing.T) {
	s, err := outbox.Open(t.TempDir()+"/outbox.db", outbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan []outbox.Entry)
	go func() {
		es, _ := s.Next(context.Background(), 1)
		got <- es
	}()
	mustAppend(t, s, ctl("wake up"))
	if es := <-got; len(es) != 1 || string(es[0].Payload) != "wake up" {
		t.Errorf("blocked Next = %v; want the appended record", payloads(es))
	}
	errc := make(chan error)
	go func() {
		_, err := s.Next(context.Background(), 1)
		errc <- err
	}()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, outbox.ErrClosed) {
		t.Errorf("Next blocked across Close = %v; want ErrClosed", err)
	}
	if err := s.Append(context.Background(), ctl("late")); !errors.Is(err, outbox.ErrClosed) {
		t.Errorf("Append after Close = %v; want ErrClosed", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Next(ctx, 1); !errors.Is(err, outbox.ErrClosed) {
		t.Errorf("Next after Close = %v; want ErrClosed", err)
	}
}

func TestNextHonoursContext(t *testing.T) {
	s, _ := openStore(t, outbox.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Next(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("Next(cancelled ctx) on an empty store = %v; want context.Canceled", err)
	}
	if _, err := s.Next(context.Background(), 0); err == nil {
		t.Error("Next(max 0) = nil error; want one")
	}
}

func TestConcurrentAppendersAndDrainerDeliverEveryRecordOnce(t *testing.T) {
	s, _ := openStore(t, outbox.Config{})
	const writers, each = 16, 200
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				r := tel(fmt.Sprintf("%02d-%03d", w, i))
				if i%10 == 0 {
					r = ctl(fmt.Sprintf("%02d-%03d", w, i))
				}
				if err := s.Append(context.Background(), r); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	seen := map[string]bool{}
	last := map[outbox.Lane]outbox.ID{}
	for len(seen) < writers*each {
		es := next(t, s, 32)
		for _, e := range es {
			if seen[string(e.Payload)] {
				t.Fatalf("%s handed out twice", e.Payload)
			}
			seen[string(e.Payload)] = true
			if e.ID <= last[e.Lane] {
				t.Errorf("%v entry %d after %d: lane order broken", e.Lane, e.ID, last[e.Lane])
			}
			last[e.Lane] = max(last[e.Lane], e.ID)
		}
		s.Ack(ids(es)...)
	}
	wg.Wait()
	st := s.Stats()
	if st.Commits >= writers*each {
		t.Errorf("%d commits for %d appends; want appends to share commits", st.Commits, writers*each)
	}
	t.Logf("%d appends in %d commits", writers*each, st.Commits)
}

func TestFlushIntervalSharesCommits(t *testing.T) {
	s, _ := openStore(t, outbox.Config{Settings: outbox.Settings{FlushInterval: 200 * time.Millisecond}})
	before := s.Stats().Commits
	var wg sync.WaitGroup
	for i := range 5 {
		wg.Go(func() { mustAppend(t, s, tel(fmt.Sprint(i))) })
	}
	wg.Wait()
	if got := s.Stats().Commits - before; got > 2 {
		t.Errorf("5 telemetry appends within FlushInterval took %d commits; want at most 2", got)
	}
	before = s.Stats().Commits
	mustAppend(t, s, ctl("now"))
	if got := s.Stats().Commits - before; got != 1 {
		t.Errorf("a control append took %d commits; want 1", got)
	}
}

// TestNextTakesStagedRecordsWithoutTheFile: a record appended while the
// uplink has taken everything in the file is handed out before its
// commit with no read of the file; one committed above where the uplink
// stands is read from the file, in order with the staged ones.
func TestNextTakesStagedRecordsWithoutTheFile(t *testing.T) {
	s, _ := openStore(t, outbox.Config{Settings: outbox.Settings{FlushInterval: time.Second}})
	appendLate := func(r outbox.Record) <-chan error { // telemetry waits up to FlushInterval for its commit
		done := make(chan error, 1)
		go func() { done <- s.Append(context.Background(), r) }()
		return done
	}
	wait := func(done <-chan error) {
		t.Helper()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}

	before := s.ReadTxs()
	done := appendLate(tel("staged"))
	if es := next(t, s, 8); len(es) != 1 || string(es[0].Payload) != "staged" {
		t.Fatalf("Next = %v; want the staged record", es)
	} else {
		s.Ack(es[0].ID)
	}
	if n := s.ReadTxs() - before; n != 0 {
		t.Errorf("handing out a staged record, with nothing in the file, read the file %d times; want none", n)
	}
	wait(done)

	// Committed and not handed out: the next hand-out reads the file, and
	// gives it before the staged record after it.
	mustAppend(t, s, ctl("committed"))
	done = appendLate(tel("staged again"))
	var got []string
	for len(got) < 2 {
		for _, e := range next(t, s, 8) {
			got = append(got, string(e.Payload))
			s.Ack(e.ID)
		}
	}
	if !slices.Equal(got, []string{"committed", "staged again"}) {
		t.Errorf("handed out %q; want the committed record, then the staged one", got)
	}
	wait(done)
}

func TestStats(t *testing.T) {
	clock := clocktest.New(clocktest.Start)
	s, _ := openStore(t, outbox.Config{Clock: clock})
	mustAppend(t, s, ctl("c"), tel("t1"), tel("t2"))
	clock.Advance(90 * time.Second)
	inFlight := next(t, s, 2)
	st := s.Stats()
	if st.Control.Depth != 1 || st.Telemetry.Depth != 2 || st.InFlight != 2 || st.Control.Bytes <= 0 ||
		st.Telemetry.OldestAge != 90*time.Second || st.FileSize <= 0 {
		t.Errorf("Stats = %+v; want depths 1 and 2, 2 in flight, oldest telemetry 90s", st)
	}
	if st.Err != nil {
		t.Errorf("Stats.Err = %v on an open store; want nil", st.Err)
	}

	// The oldest records leave and a new one comes: Stats reads them
	// anew, not from what it read before.
	s.Ack(append(ids(inFlight), ids(next(t, s, 1))...)...)
	clock.Advance(30 * time.Second)
	mustAppend(t, s, tel("t3")) // its commit has the acks
	clock.Advance(10 * time.Second)
	if st := s.Stats(); st.Control.Depth != 0 || st.Control.OldestAge != 0 || st.Telemetry.Depth != 1 || st.Telemetry.OldestAge != 10*time.Second {
		t.Errorf("Stats = %+v after the oldest left; want no control record, and one telemetry record 10s old", st)
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); !errors.Is(st.Err, outbox.ErrClosed) || st.FileSize <= 0 {
		t.Errorf("Stats after Close = %+v; want ErrClosed, and the file's size", st)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := outbox.DefaultConfig().Validate(); err != nil {
		t.Errorf("DefaultConfig().Validate() = %v", err)
	}
	for _, c := range []struct {
		cfg   outbox.Config
		field string
	}{
		{outbox.Config{Settings: outbox.Settings{MaxBytes: 1000}}, "MaxBytes"},
		{outbox.Config{Settings: outbox.Settings{FlushInterval: -time.Second}}, "FlushInterval"},
		{outbox.Config{Settings: outbox.Settings{FlushInterval: time.Hour}}, "FlushInterval"},
		{outbox.Config{Settings: outbox.Settings{LiveShare: 1.5}}, "LiveShare"},
		{outbox.Config{Settings: outbox.Settings{LiveShare: math.NaN()}}, "LiveShare"},
		{outbox.Config{CompactMinBytes: -1}, "CompactMinBytes"},
		{outbox.Config{ReserveBytes: -1}, "ReserveBytes"},
		{outbox.Config{Settings: outbox.Settings{MaxBytes: 1 << 20}, ReserveBytes: 2 << 20}, "ReserveBytes"},
	} {
		err := c.cfg.Validate()
		if !errors.Is(err, outbox.ErrInvalidConfig) || !strings.Contains(err.Error(), c.field) {
			t.Errorf("Validate(%+v) = %v; want ErrInvalidConfig naming %s", c.cfg, err, c.field)
		}
		if _, err := outbox.Open(t.TempDir()+"/x.db", c.cfg); !errors.Is(err, outbox.ErrInvalidConfig) {
			t.Errorf("Open(%+v) = %v; want ErrInvalidConfig", c.cfg, err)
		}
	}
}

// TestConfig32Bit checks the cap that cannot be mapped on 32-bit ARM is
// refused at Open. It runs its assertion where int is 32 bits (make test
// runs this package as a 32-bit build too: scripts/outbox32.sh).
func TestConfig32Bit(t *testing.T) {
	err := outbox.Config{Settings: outbox.Settings{MaxBytes: 1 << 30}}.Validate()
	if outbox.Is32Bit {
		if !errors.Is(err, outbox.ErrInvalidConfig) || !strings.Contains(err.Error(), "32-bit") {
			t.Errorf("Validate(MaxBytes 1 GiB) on 32-bit = %v; want an error about the 32-bit map", err)
		}
		return
	}
	if err != nil {
		t.Errorf("Validate(MaxBytes 1 GiB) on 64-bit = %v; want nil", err)
	}
}

// waitFor polls cond until it holds or 5 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	pollUntil(t, 5*time.Second, func() string { return "waiting for " + what }, cond)
}
