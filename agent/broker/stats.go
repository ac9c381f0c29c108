package broker

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// Outcome is what became of a client's message on Integrate's topics.
type Outcome uint8

// Outcomes. The first three are the message kept; the others, left out.
const (
	// Taken: kept as an integration.mqtt.received event.
	Taken Outcome = iota
	// Adapted: a Message.Legacy one, adapted into device.telemetry.
	Adapted
	// Unadapted: a Message.Legacy one that could not be adapted, kept as
	// an integration.mqtt.received event instead.
	Unadapted
	// TooLarge: larger than Integrate.MaxMessageBytes.
	TooLarge
	// OverRate: beyond the client's Integrate.RatePerClient.
	OverRate
	// OverTotal: beyond all clients' Integrate.RateTotal.
	OverTotal
	// Failed: OnMessage failed to keep it; the client was answered with
	// an error (MQTT v5, QoS 1 and 2).
	Failed
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"taken", "adapted", "unadapted", "too_large", "over_rate", "over_total", "failed"}

// Outcomes lists every Outcome, in order.
func Outcomes() []Outcome {
	out := make([]Outcome, numOutcomes)
	for i := range out {
		out[i] = Outcome(i)
	}
	return out
}

// String returns the outcome's name, a label of the agent's metrics:
// "taken", "adapted", "unadapted", "too_large", "over_rate",
// "over_total", "failed".
func (o Outcome) String() string {
	if o < numOutcomes {
		return outcomeNames[o]
	}
	return "unknown"
}

// Kept reports whether o is a message kept: Taken, Adapted or Unadapted.
func (o Outcome) Kept() bool { return o <= Unadapted }

// IntegrateStats count the messages on Integrate's topics by Outcome.
type IntegrateStats [numOutcomes]uint64

// Of returns the count of o.
func (s IntegrateStats) Of(o Outcome) uint64 {
	if o < numOutcomes {
		return s[o]
	}
	return 0
}

// MaxClientStats bounds the clients Stats reports one by one: beyond it,
// the one seen least recently is forgotten (its counts stay in the
// totals).
const MaxClientStats = 100

// ClientStats are what became of one client's messages on Integrate's
// topics.
type ClientStats struct {
	// ID is the client's MQTT client id.
	ID string
	// Connected: the client is connected now.
	Connected bool
	// Counts count its messages since it was first seen.
	Counts IntegrateStats
	// LastAt is when its latest message arrived, and LastOutcome what
	// became of it.
	LastAt      time.Time
	LastOutcome Outcome
	// ConsecutiveLeftOut counts its latest messages in a row that were
	// not kept as they came (Unadapted included); 0 when the latest was.
	ConsecutiveLeftOut int
	// LastProblem says what was wrong with the latest such message, and
	// LastProblemAt when it came; "" and zero when none was.
	LastProblem   string
	LastProblemAt time.Time
}

// Stats are the broker's clients and what became of their messages.
type Stats struct {
	// Connected counts the clients connected now, the agent's own uplink
	// among them when it uses this broker.
	Connected int
	// Integrate counts every client's messages on Integrate's topics
	// since the broker started.
	Integrate IntegrateStats
	// Clients are the clients that published on Integrate's topics, the
	// latest seen first, at most MaxClientStats.
	Clients []ClientStats
}

// tally keeps the counts, its caller holding the lock.
type tally struct {
	total   IntegrateStats
	clients map[string]*ClientStats
}

// add counts the outcome o of client's message at now; problem says
// what was wrong when o is not Taken or Adapted.
func (t *tally) add(client string, now time.Time, o Outcome, problem string) {
	t.total[o]++
	c, ok := t.clients[client]
	if !ok {
		if len(t.clients) >= MaxClientStats {
			t.forgetOldest()
		}
		c = &ClientStats{ID: client}
		t.clients[client] = c
	}
	c.Counts[o]++
	c.LastAt, c.LastOutcome = now, o
	if o == Taken || o == Adapted {
		c.ConsecutiveLeftOut = 0
		return
	}
	c.ConsecutiveLeftOut++
	c.LastProblem, c.LastProblemAt = problem, now
}

// forgetOldest forgets the client seen least recently.
func (t *tally) forgetOldest() {
	var oldest *ClientStats
	for _, c := range t.clients {
		if oldest == nil || c.LastAt.Before(oldest.LastAt) {
			oldest = c
		}
	}
	delete(t.clients, oldest.ID)
}

// stats returns a copy of the counts, the clients the latest seen first;
// connected reports whether a client is connected.
func (t *tally) stats(connected func(id string) bool) Stats {
	s := Stats{Integrate: t.total, Clients: make([]ClientStats, 0, len(t.clients))}
	for _, c := range t.clients {
		cs := *c
		cs.Connected = connected(c.ID)
		s.Clients = append(s.Clients, cs)
	}
	slices.SortFunc(s.Clients, func(a, b ClientStats) int {
		return cmp.Or(b.LastAt.Compare(a.LastAt), strings.Compare(a.ID, b.ID))
	})
	return s
}
