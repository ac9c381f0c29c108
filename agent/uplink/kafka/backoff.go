package kafka

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff bounds: the first retry waits about backoffMin, doubling up to
// backoffMax.
const (
	backoffMin = 100 * time.Millisecond
	backoffMax = 30 * time.Second
)

// backoff returns the wait before retry n (from 1): backoffMin doubling up
// to backoffMax, with jitter over its upper half so that a fleet does not
// retry in lockstep after a broker outage.
func backoff(n int) time.Duration {
	d := backoffMin
	for i := 1; i < n && d < backoffMax; i++ {
		d *= 2
	}
	d = min(d, backoffMax)
	return d/2 + rand.N(d/2+1)
}

// sleep waits d, or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
