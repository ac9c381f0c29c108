package serialport

import (
	"math/rand/v2"
	"time"

	"github.com/iot-hub/agent/internal/backoff"
)

// reopenBackoff returns the wait after the attempt-th failed open in a
// row (from 1): min doubled attempt-1 times, capped at max, less up to
// 20 % of jitter so that the gateways that lost their ports at the same
// instant do not retry in step.
func reopenBackoff(min, max time.Duration) func(attempt int) time.Duration {
	return func(attempt int) time.Duration {
		d := backoff.Capped(min, max, attempt)
		return d - time.Duration(rand.Int64N(int64(d)/5+1))
	}
}
