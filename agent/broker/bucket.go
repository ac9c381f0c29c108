package broker

import "time"

// bucket is a token bucket: up to burst tokens, refilled at rate a
// second.
type bucket struct {
	rate   float64
	burst  float64
	tokens float64
	at     time.Time
}

// newBucket returns a full bucket at now.
func newBucket(rate float64, burst int, now time.Time) *bucket {
	return &bucket{rate: rate, burst: float64(burst), tokens: float64(burst), at: now}
}

// has refills the bucket up to now and reports whether it holds a
// token.
func (b *bucket) has(now time.Time) bool {
	if d := now.Sub(b.at); d > 0 { // a clock stepped back refills nothing
		b.tokens = min(b.burst, b.tokens+d.Seconds()*b.rate)
		b.at = now
	}
	return b.tokens >= 1
}

// take takes a token, which has must have found.
func (b *bucket) take() { b.tokens-- }
