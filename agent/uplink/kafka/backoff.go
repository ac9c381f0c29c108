package kafka

import (
	"time"

	"github.com/iot-hub/agent/internal/backoff"
)

// Backoff bounds: the first retry waits about backoffMin, doubling up to
// backoffMax.
const (
	backoffMin = 100 * time.Millisecond
	backoffMax = 30 * time.Second
)

// retryBackoff returns the wait before retry n (from 1): backoffMin
// doubling up to backoffMax, with jitter over its upper half so that a
// fleet does not retry in lockstep after a broker outage.
func retryBackoff(n int) time.Duration { return backoff.Jittered(backoffMin, backoffMax, n) }
