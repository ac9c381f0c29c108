package broker

import (
	"fmt"
	"testing"
	"time"
)

// TestTallyForgetsTheLeastRecentClient: past MaxClientStats clients,
// the one seen least recently goes; the totals keep its counts.
func TestTallyForgetsTheLeastRecentClient(t *testing.T) {
	tl := tally{clients: map[string]*ClientStats{}}
	at := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	for i := range MaxClientStats + 1 {
		id := fmt.Sprint("c", i)
		if i == 0 {
			id = "first"
		}
		tl.add(id, at.Add(time.Duration(i)*time.Second), Taken, "")
	}
	tl.add("c1", at.Add(time.Hour), OverRate, "flood")
	s := tl.stats(func(string) bool { return false })
	if len(s.Clients) != MaxClientStats || s.Integrate.Of(Taken) != MaxClientStats+1 || s.Integrate.Of(OverRate) != 1 {
		t.Fatalf("%d clients, totals %v; want %d clients, every message counted", len(s.Clients), s.Integrate, MaxClientStats)
	}
	for _, c := range s.Clients {
		if c.ID == "first" {
			t.Errorf("the client seen least recently is still reported")
		}
	}
	if c := s.Clients[0]; c.ID != "c1" || c.Counts.Of(Taken) != 1 || c.Counts.Of(OverRate) != 1 || c.LastProblem != "flood" {
		t.Errorf("Clients[0] = %+v; want c1, the latest seen, with both its messages", c)
	}
}

func TestOutcomeString(t *testing.T) {
	for o, want := range map[Outcome]string{Taken: "taken", OverTotal: "over_total", Failed: "failed", numOutcomes: "unknown"} {
		if got := o.String(); got != want {
			t.Errorf("Outcome(%d).String() = %q; want %q", o, got, want)
		}
	}
}
