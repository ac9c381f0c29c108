package outbox_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/outbox"
)

// twoUplinks is the configuration of a store drained by MQTT and Kafka.
func twoUplinks() outbox.Config {
	return outbox.Config{Uplinks: []string{"mqtt", "kafka"}}
}

// nextOf calls the view's Next with a deadline.
func nextOf(t testing.TB, v *outbox.View, max int) []outbox.Entry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	es, err := v.Next(ctx, max)
	if err != nil {
		t.Fatalf("%s: Next(%d) = %v", v.Name(), max, err)
	}
	return es
}

// none checks that the view has nothing to hand out.
func none(t testing.TB, v *outbox.View) {
	t.Helper()
	if es, err := v.TryNext(100, nil); err != nil || len(es) > 0 {
		t.Fatalf("%s: TryNext = %d entries (%v), %v; want none", v.Name(), len(es), payloads(es), err)
	}
}

// drainView hands out and acks everything the view has, returning the
// payloads in order.
func drainView(t testing.TB, v *outbox.View) []string {
	t.Helper()
	var out []string
	for {
		es, err := v.TryNext(64, nil)
		if err != nil {
			t.Fatalf("%s: TryNext = %v", v.Name(), err)
		}
		if len(es) == 0 {
			return out
		}
		out = append(out, payloads(es)...)
		v.Ack(ids(es)...)
	}
}

func queued(s *outbox.Store) map[string]int {
	m := map[string]int{}
	for _, u := range s.Uplinks() {
		m[u.Name] = u.Queued
	}
	return m
}

func depth(s *outbox.Store) int {
	st := s.Stats()
	return st.Control.Depth + st.Telemetry.Depth
}

func appendN(t testing.TB, s *outbox.Store, n int, prefix string) []string {
	t.Helper()
	var want []string
	for i := range n {
		p := fmt.Sprintf("%s%d", prefix, i)
		mustAppend(t, s, tel(p))
		want = append(want, p)
	}
	return want
}

func TestEveryUplinkGetsEveryRecordAndTheLastAckDeletes(t *testing.T) {
	s, _ := openStore(t, twoUplinks())
	m, k := s.View("mqtt"), s.View("kafka")
	want := appendN(t, s, 10, "r")
	if got := drainView(t, m); !slices.Equal(got, want) {
		t.Fatalf("mqtt got %v; want %v", got, want)
	}
	waitFor(t, "mqtt's acks to settle", func() bool { return queued(s)["mqtt"] == 0 })
	if q := queued(s); q["kafka"] != 10 || depth(s) != 10 {
		t.Fatalf("after mqtt acked all: queued %v, depth %d; want kafka 10 and every record kept", q, depth(s))
	}
	none(t, m)
	if got := drainView(t, k); !slices.Equal(got, want) {
		t.Fatalf("kafka got %v; want %v", got, want)
	}
	waitFor(t, "the records to be deleted", func() bool { return depth(s) == 0 })
	for _, u := range s.Uplinks() {
		if u.Sent != 10 || u.Acked != 10 || u.Queued != 0 || u.InFlight != 0 {
			t.Errorf("%+v; want 10 sent, 10 acked, none queued or in flight", u)
		}
	}
}

func TestOwnRouteGoesToItsUplinkAlone(t *testing.T) {
	s, _ := openStore(t, twoUplinks())
	m, k := s.View("mqtt"), s.View("kafka")
	if err := m.Append(context.Background(), ctl("mqtt-status")); err != nil {
		t.Fatal(err)
	}
	r := ctl("kafka-answer")
	r.Route = s.Route("kafka")
	mustAppend(t, s, r)
	if got := drainView(t, m); !slices.Equal(got, []string{"mqtt-status"}) {
		t.Errorf("mqtt got %v; want its own record alone", got)
	}
	if got := drainView(t, k); !slices.Equal(got, []string{"kafka-answer"}) {
		t.Errorf("kafka got %v; want its own record alone", got)
	}
	waitFor(t, "both to be deleted after one ack each", func() bool { return depth(s) == 0 })
}

// One uplink out for long, the other delivers everything, and neither
// its share nor the other's is lost across a restart: the one that
// delivered does not send it again, the other sends it all.
func TestOneUplinkOutTheOtherDeliversAcrossRestarts(t *testing.T) {
	s, path := openStore(t, twoUplinks())
	want := appendN(t, s, 500, "r")
	if got := drainView(t, s.View("mqtt")); len(got) != 500 {
		t.Fatalf("mqtt got %d; want 500", len(got))
	}
	waitFor(t, "mqtt's floor to be committed", func() bool { return queued(s)["mqtt"] == 0 })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path, twoUplinks())
	none(t, s.View("mqtt"))
	if q := queued(s); q["mqtt"] != 0 || q["kafka"] != 500 {
		t.Fatalf("after a restart, queued %v; want mqtt 0, kafka 500", q)
	}
	if got := drainView(t, s.View("kafka")); !slices.Equal(got, want) {
		t.Fatalf("kafka got %d records; want the 500 in order", len(got))
	}
	waitFor(t, "the records to be deleted", func() bool { return depth(s) == 0 })
}

// With one uplink out, the byte cap still drops the oldest telemetry,
// and the uplink that is up is not held back.
func TestCapHoldsWithOneUplinkOut(t *testing.T) {
	cfg := twoUplinks()
	cfg.MaxBytes = 1 << 20
	s, _ := openStore(t, cfg)
	m := s.View("mqtt")
	big := make([]byte, 10<<10)
	for i := range 300 { // 3 MB through a 1 MiB store
		r := tel(fmt.Sprintf("%d:%s", i, big))
		mustAppend(t, s, r)
		m.Ack(ids(nextOf(t, m, 10))...)
	}
	st := s.Stats()
	if st.Dropped.Cap == 0 || st.Telemetry.Bytes > 1<<20 {
		t.Fatalf("stats %+v; want drops for the cap and at most 1 MiB kept", st)
	}
	if u := s.Uplinks()[0]; u.Sent != 300 || u.Acked != 300 {
		t.Errorf("mqtt %+v; want all 300 sent and acked while kafka is out", u)
	}
}

// A stand-in hands out the carrier's records, those in flight on the
// carrier too (a carrier out holds them until it is back), its ack
// deletes them, and the carrier's later acks of the same are counted as
// duplicates.
func TestStandinTakesOverAndDuplicatesAreCounted(t *testing.T) {
	s, _ := openStore(t, twoUplinks())
	m, k := s.View("mqtt"), s.View("kafka")
	if err := s.SetRouting(outbox.Routing{Carriers: s.Route("kafka")}); err != nil {
		t.Fatal(err)
	}
	want := appendN(t, s, 20, "r")
	none(t, m) // it passes them, as not its own
	own := tel("kafka's own")
	own.Route = s.Route("kafka")
	mustAppend(t, s, own)    // a commit, which raises mqtt's floor past them
	stuck := nextOf(t, k, 5) // in flight on kafka when it goes out
	if err := s.SetRouting(outbox.Routing{Carriers: s.Route("kafka"), Standins: s.Route("mqtt")}); err != nil {
		t.Fatal(err)
	}
	if got := drainView(t, m); !slices.Equal(got, want) {
		t.Fatalf("the stand-in got %v; want %v", got, want)
	}
	drainView(t, k) // kafka's own, and the 15 it had not taken yet: gone
	waitFor(t, "the stand-in's acks to delete", func() bool { return depth(s) == 0 })
	k.Ack(ids(stuck)...) // kafka back: what it had in flight arrives too
	if d := s.Stats().Duplicates; d != 5 {
		t.Errorf("Duplicates = %d; want the 5 kafka had in flight", d)
	}
	// Back to kafka alone: the stand-in hands out nothing more.
	if err := s.SetRouting(outbox.Routing{Carriers: s.Route("kafka")}); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, tel("after"))
	none(t, m)
	if got := drainView(t, k); !slices.Equal(got, []string{"after"}) {
		t.Errorf("kafka got %v; want [after]", got)
	}
}

// Dropping a carrier deletes what the others have; a restart keeps the
// routing's effect.
func TestRoutingToOneCarrierDeletesWhatItHas(t *testing.T) {
	s, path := openStore(t, twoUplinks())
	appendN(t, s, 50, "r")
	drainView(t, s.View("kafka"))
	waitFor(t, "kafka's acks to settle", func() bool { return queued(s)["kafka"] == 0 })
	if depth(s) != 50 {
		t.Fatalf("depth %d; want 50 kept for mqtt", depth(s))
	}
	if err := s.SetRouting(outbox.Routing{Carriers: s.Route("kafka")}); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, tel("kick")) // a commit to run the sweep with
	waitFor(t, "the records kafka had to be deleted", func() bool { return depth(s) == 1 })
	none(t, s.View("mqtt"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Reopened with both carriers (the store's default): mqtt sends what
	// it passed while it did not carry, "kick", and what comes after.
	s = openAt(t, path, twoUplinks())
	mustAppend(t, s, tel("later"))
	if got := drainView(t, s.View("mqtt")); !slices.Equal(got, []string{"kick", "later"}) {
		t.Errorf("mqtt got %v after the restart; want [kick later]", got)
	}
	if got := drainView(t, s.View("kafka")); !slices.Equal(got, []string{"kick", "later"}) {
		t.Errorf("kafka got %v after the restart; want [kick later]", got)
	}
	waitFor(t, "every record to be deleted", func() bool { return depth(s) == 0 })
}

// A stand-in does not send again what it delivered as a carrier: in
// phase A MQTT delivered what Kafka lacks; when it stands in for Kafka
// (phase B, Kafka out) it sends only what came since. Kafka still gets
// it all once back.
func TestStandinSkipsWhatItDelivered(t *testing.T) {
	s, _ := openStore(t, twoUplinks())
	m, k := s.View("mqtt"), s.View("kafka")
	early := appendN(t, s, 10, "a")
	drainView(t, m)
	if err := s.SetRouting(outbox.Routing{Carriers: s.Route("kafka")}); err != nil {
		t.Fatal(err)
	}
	late := appendN(t, s, 5, "b")
	none(t, m)
	own := tel("kafka's own")
	own.Route = s.Route("kafka")
	mustAppend(t, s, own)
	if err := s.SetRouting(outbox.Routing{Carriers: s.Route("kafka"), Standins: s.Route("mqtt")}); err != nil {
		t.Fatal(err)
	}
	if got := drainView(t, m); !slices.Equal(got, late) {
		t.Fatalf("the stand-in got %v; want only %v", got, late)
	}
	if got := drainView(t, k); !slices.Equal(got, append(early, "kafka's own")) {
		t.Errorf("kafka got %v; want %v and its own", got, early)
	}
	waitFor(t, "every record to be deleted", func() bool { return depth(s) == 0 })
	if d := s.Stats().Duplicates; d != 0 {
		t.Errorf("Duplicates = %d; want 0", d)
	}
}

func TestRouteBitsSurviveOtherUplinkLists(t *testing.T) {
	s, path := openStore(t, outbox.Config{Uplinks: []string{"mqtt"}})
	if err := s.View("mqtt").Append(context.Background(), ctl("for-mqtt")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path, outbox.Config{Uplinks: []string{"kafka", "mqtt"}})
	none(t, s.View("kafka"))
	if got := drainView(t, s.View("mqtt")); !slices.Equal(got, []string{"for-mqtt"}) {
		t.Errorf("mqtt got %v; want its record, whatever the order of the list", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// A record for an uplink no longer there goes out on the others.
	s = openAt(t, path, outbox.Config{Uplinks: []string{"mqtt"}})
	if err := s.View("mqtt").Append(context.Background(), ctl("orphan")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path, outbox.Config{Uplinks: []string{"kafka"}})
	if got := drainView(t, s.View("kafka")); !slices.Equal(got, []string{"orphan"}) {
		t.Errorf("kafka got %v; want the record of the uplink gone", got)
	}
}

func TestUplinksConfig(t *testing.T) {
	for _, names := range [][]string{{""}, {"a", "a"}, {"1", "2", "3", "4", "5", "6", "7", "8", "9"}} {
		if err := (outbox.Config{Uplinks: names}).Validate(); err == nil {
			t.Errorf("Validate(Uplinks %q) = nil; want an error", names)
		}
	}
	s, _ := openStore(t, twoUplinks())
	if err := s.SetRouting(outbox.Routing{}); err == nil {
		t.Error("SetRouting with no carrier = nil; want an error")
	}
}

// Two uplinks draining at their own pace while records come: each gets
// every record, once, in order, and the store ends empty.
func TestTwoUplinksDrainConcurrently(t *testing.T) {
	cfg := twoUplinks()
	cfg.LiveShare = -1 // strict order, to check it
	s, _ := openStore(t, cfg)
	const n = 3000
	names := []string{"mqtt", "kafka"}
	got := make([][]string, len(names))
	done := make(chan struct{})
	for i, name := range names {
		go func() {
			defer func() { done <- struct{}{} }()
			v := s.View(name)
			for len(got[i]) < n {
				es, err := v.Next(context.Background(), 50)
				if err != nil {
					t.Errorf("%s: Next = %v", name, err)
					return
				}
				got[i] = append(got[i], payloads(es)...)
				if name == "kafka" {
					time.Sleep(time.Millisecond) // the slower one
				}
				v.Ack(ids(es)...)
			}
		}()
	}
	want := make([]string, n)
	for i := range n {
		want[i] = fmt.Sprint(i)
		mustAppend(t, s, tel(want[i]))
	}
	<-done
	<-done
	for i, g := range got {
		if !slices.Equal(g, want) {
			t.Errorf("%s got %d records, not the %d in order", names[i], len(g), n)
		}
	}
	waitFor(t, "every record to be deleted", func() bool { return depth(s) == 0 })
}
