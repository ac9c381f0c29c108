package serialport

import (
	"math/rand/v2"
	"time"
)

// backoff returns the wait after the attempt-th failed open in a row
// (from 1): min doubled attempt-1 times, capped at max, less up to 20 %
// of jitter so that the gateways that lost their ports at the same
// instant do not retry in step.
func backoff(min, max time.Duration) func(attempt int) time.Duration {
	return func(attempt int) time.Duration {
		d := min
		for i := 1; i < attempt && d < max; i++ {
			d *= 2
		}
		d = minDuration(d, max)
		return d - time.Duration(rand.Int64N(int64(d)/5+1))
	}
}

// minDuration is the smaller of a and b.
func minDuration(a, b time.Duration) time.Duration {
	if a < b {
		return a
	}
	return b
}
