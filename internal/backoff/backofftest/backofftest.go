// Package backofftest models a fleet of gateways coming back to a broker
// after an outage, for the uplinks' tests of their backoff defaults: how
// long after the broker's return each gateway's first attempt comes
// ([Returns]), the share of the fleet back within a delay ([Quantile]),
// and the load on the broker that returns ([Peak]).
//
// The model is the uplinks' retry loop with its waits, on a computed
// clock: no time passes. An attempt made while the broker is down fails
// at once (the broker's port refuses it); one made once it is back
// connects.
package backofftest

import (
	"math"
	"slices"
	"testing"
	"time"
)

// maxAttempts bounds a gateway's attempts before the return, against a
// wait function that lets no time pass.
const maxAttempts = 1_000_000

// Returns models gateways that all lost the broker at the same instant:
// each attempts at once, and after each failed attempt waits what its
// wait function gives for retry 1, 2, ...; waits(g) returns gateway g's
// (g from 0; a test gives each its own random draws). The broker is back
// after outage. Returns gives, sorted, how long after the return each
// gateway attempted first, with the attempt that connects it.
func Returns(t testing.TB, gateways int, outage time.Duration, waits func(gateway int) func(n int) time.Duration) []time.Duration {
	t.Helper()
	delays := make([]time.Duration, gateways)
	for g := range gateways {
		wait := waits(g)
		var at time.Duration // the last attempt, from the start of the outage
		for n := 1; at < outage; n++ {
			if n > maxAttempts {
				t.Fatalf("gateway %d: %d attempts in the first %v of the outage; want waits that let time pass", g, maxAttempts, at)
			}
			at += wait(n)
		}
		delays[g] = at - outage
	}
	slices.Sort(delays)
	return delays
}

// Quantile returns the least delay within which at least the share q of
// the gateways came back: Quantile(delays, 0.99) is the 99th percentile.
// delays must be sorted, as Returns gives them.
func Quantile(delays []time.Duration, q float64) time.Duration {
	i := int(math.Ceil(q*float64(len(delays))-1e-9)) - 1 // the ceil(q·n)-th, counted from 0; 1e-9 for q·n's rounding
	return delays[min(max(i, 0), len(delays)-1)]
}

// Peak returns the most delays that fall within one window [d, d+window)
// anywhere: with window 1 s, the peak number of gateways reconnecting in
// one second. delays must be sorted, as Returns gives them.
func Peak(delays []time.Duration, window time.Duration) int {
	peak, end := 0, 0
	for start, d := range delays {
		for end < len(delays) && delays[end] < d+window {
			end++
		}
		peak = max(peak, end-start)
	}
	return peak
}

// What docs/configuration.md's "Reconnecting after an outage" promises of
// both uplinks' defaults (issues 17 and 21): once the broker is back,
// every gateway tries again within ReturnBound, and a fleet of FleetSize
// gateways that lost it together reconnects at most FleetPeak in any
// second.
const (
	ReturnBound = 15 * time.Second
	FleetSize   = 1000
	FleetPeak   = FleetSize / 5
	// Outage is issue 17's: the broker was away 60 s.
	Outage = 60 * time.Second
)

// CheckFleet models FleetSize gateways with their waits (see [Returns])
// through Outage, and fails t unless 99% of them are back within
// ReturnBound and no second after the return holds more than FleetPeak
// first attempts. It logs what it found.
func CheckFleet(t testing.TB, waits func(gateway int) func(n int) time.Duration) {
	t.Helper()
	delays := Returns(t, FleetSize, Outage, waits)
	p99, peak := Quantile(delays, 0.99), Peak(delays, time.Second)
	t.Logf("%d gateways after a %v outage: 99%% back within %v, all within %v; at most %d in one second",
		FleetSize, Outage, p99, delays[len(delays)-1], peak)
	if p99 > ReturnBound {
		t.Errorf("99%% of %d gateways back within %v of the broker's return; want within %v", FleetSize, p99, ReturnBound)
	}
	if peak > FleetPeak {
		t.Errorf("%d of %d gateways attempted within one second after the broker's return; want at most %d", peak, FleetSize, FleetPeak)
	}
}
