package kafka

import (
	"math/rand/v2"
	"time"

	"github.com/iot-hub/agent/internal/backoff"
)

// Backoff bounds: the first retry waits up to backoffMin, the bound
// doubling up to backoffMax. backoffMax is the MQTT uplink's default
// BackoffMax: the longest either uplink takes to try again once the
// brokers are back (docs/configuration.md, "Reconnecting after an
// outage"). backoffMin is lower than MQTT's 1 s: franz-go retries with
// it also while the cluster is up (a partition's leader moving), where
// Kafka's clients retry after 100 ms.
const (
	backoffMin = 100 * time.Millisecond
	backoffMax = backoff.UplinkMax
)

// retryBackoff returns the wait before retry n (from 1) of the uplink's
// loops, and of franz-go's own requests (kgo.RetryBackoffFn): drawn from
// [0, d] ("full jitter"), d doubling from backoffMin up to backoffMax,
// so that a fleet that lost the brokers at the same instant comes back
// spread over backoffMax, not in step. Safe for concurrent use.
func retryBackoff(n int) time.Duration { return retryBackoffBy(n, rand.Float64()) }

// retryBackoffBy is retryBackoff with the random part given: r, in
// [0, 1), is the wait's share of d (a test's seeded draw).
func retryBackoffBy(n int, r float64) time.Duration {
	return backoff.FullJitter(backoffMin, backoffMax, n, r)
}
