package main

import (
	"sync"
	"time"
)

// ledger follows every reading by its correlationId: stored by a
// sampler, acknowledged by mosquitto to the gateway, received by the
// verifier.
type ledger struct {
	mu       sync.Mutex
	byID     map[string]*reading
	received int // every delivery to the verifier, duplicates included
}

type reading struct {
	gateway  string
	ackedAt  time.Time // the first acknowledgement; zero if none
	received int
}

func newLedger() *ledger { return &ledger{byID: make(map[string]*reading)} }

func (l *ledger) sampled(id, gateway string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r, ok := l.byID[id]; ok {
		r.gateway = gateway // received before its Append returned
		return
	}
	l.byID[id] = &reading{gateway: gateway}
}

func (l *ledger) acked(id string, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r, ok := l.byID[id]; ok && r.ackedAt.IsZero() {
		r.ackedAt = at
	}
}

func (l *ledger) delivered(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.received++
	r, ok := l.byID[id]
	if !ok {
		// The verifier can get a reading in the instant between the
		// outbox storing it and the sampler's Append returning.
		r = &reading{}
		l.byID[id] = r
	}
	r.received++
}

// tally is what the ledger holds once the fleet has drained.
type tally struct {
	sampled, received, distinct, duplicates int
	lostByAgent, lostByBroker               int
	foreign                                 int
}

// count tallies the readings: a reading never received is lost by the
// broker when mosquitto had acknowledged it before killed, by the agent
// otherwise.
func (l *ledger) count(killed time.Time) tally {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := tally{received: l.received}
	for _, r := range l.byID {
		if r.gateway == "" {
			t.foreign++
			continue
		}
		t.sampled++
		switch {
		case r.received > 0:
			t.distinct++
			t.duplicates += r.received - 1
		case !r.ackedAt.IsZero() && r.ackedAt.Before(killed):
			t.lostByBroker++
		default:
			t.lostByAgent++
		}
	}
	return t
}

// waiting is how many stored readings the verifier has not received,
// but for those mosquitto acknowledged before killed.
func (l *ledger) waiting(killed time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.byID {
		if r.gateway != "" && r.received == 0 && (r.ackedAt.IsZero() || !r.ackedAt.Before(killed)) {
			n++
		}
	}
	return n
}

// missingBy counts, by gateway, the readings the verifier has not
// received.
func (l *ledger) missingBy() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := map[string]int{}
	for _, r := range l.byID {
		if r.gateway != "" && r.received == 0 {
			m[r.gateway]++
		}
	}
	return m
}
