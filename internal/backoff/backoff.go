// Package backoff computes the waits between retries that the agent's
// retrying parts share: exponential, capped, and jittered so that the
// gateways of a fleet that failed at the same instant do not retry in
// step.
//
// Two jitters: [FullJitter] draws a wait from all of [0, d], for the
// uplinks, whose retries a whole fleet aims at one broker: it puts the
// gateways out of step within a few attempts, which bounds the rate at
// which they come back (docs/configuration.md, "Reconnecting after an
// outage").
// [Jittered] keeps a wait within [d/2, d], whose pace stays close to d:
// an I2C bus's reopening and the certificate renewal use it.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// UplinkMax is the uplinks' longest wait between attempts to reach their
// brokers: the MQTT uplink's default BackoffMax, the Kafka uplink's own.
// Once the brokers are back, a gateway tries again within it; a fleet
// that lost them at the same instant comes back spread over it, with
// FullJitter at most about 2N/UplinkMax of N gateways a second
// (docs/configuration.md, "Reconnecting after an outage").
const UplinkMax = 15 * time.Second

// Capped returns the wait before retry n, counted from 1: lo doubled n-1
// times, at most hi (and never below lo: an n below 1 counts as 1).
func Capped(lo, hi time.Duration, n int) time.Duration {
	d := lo
	for i := 1; i < n && d < hi; i++ {
		d *= 2
	}
	return max(min(d, hi), lo)
}

// Jittered returns Capped(lo, hi, n) less a random part of up to half of
// it: a wait within [d/2, d].
func Jittered(lo, hi time.Duration, n int) time.Duration {
	return JitteredBy(lo, hi, n, rand.Float64())
}

// JitteredBy is Jittered with the random part given: r, in [0, 1), picks
// the wait within [d/2, d], for a caller that draws from a source of its
// own (a test's).
func JitteredBy(lo, hi time.Duration, n int, r float64) time.Duration {
	d := Capped(lo, hi, n)
	return d/2 + time.Duration(r*float64(d/2))
}

// FullJitter returns the wait before retry n, counted from 1, with "full
// jitter": the share r of Capped(lo, hi, n), r drawn uniformly from
// [0, 1) by the caller (rand.Float64, or a test's seeded source); the wait
// is then uniform over [0, Capped(lo, hi, n)).
func FullJitter(lo, hi time.Duration, n int, r float64) time.Duration {
	return time.Duration(r * float64(Capped(lo, hi, n)))
}

// Sleep waits d, or until ctx ends; it reports whether d passed.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
