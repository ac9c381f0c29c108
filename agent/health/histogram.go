package health

import (
	"slices"
	"sync/atomic"
	"time"
)

// histogram counts durations into buckets, as a Prometheus histogram:
// observe is a binary search and two atomic adds; no lock, no allocation.
type histogram struct {
	bounds []time.Duration // the buckets' upper bounds (le), ascending
	counts []atomic.Uint64 // per bucket, not cumulative; the last is +Inf
	sumUS  atomic.Int64    // the sum, in microseconds: an hour each for 2.5e9 records before it overflows
}

func newHistogram(bounds ...time.Duration) *histogram {
	return &histogram{bounds: bounds, counts: make([]atomic.Uint64, len(bounds)+1)}
}

// observe counts d; a negative d counts as 0.
func (h *histogram) observe(d time.Duration) {
	d = max(d, 0)
	i, _ := slices.BinarySearch(h.bounds, d) // the first bound >= d: le is inclusive
	h.counts[i].Add(1)
	h.sumUS.Add(d.Microseconds())
}

// snapshot returns the cumulative counts, one per bound then +Inf (whose
// count is the total), and the sum in seconds. Observations made while
// it reads may show in the counts and not the sum, or the other way
// round; the counts are consistent among themselves.
func (h *histogram) snapshot() (cumulative []uint64, sum float64) {
	cumulative = make([]uint64, len(h.counts))
	var n uint64
	for i := range h.counts {
		n += h.counts[i].Load()
		cumulative[i] = n
	}
	return cumulative, float64(h.sumUS.Load()) / 1e6
}

// Buckets.
var (
	// publishBuckets span a broker's round trip to an outage's backlog.
	publishBuckets = []time.Duration{
		5 * time.Millisecond, 10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
		100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond, time.Second,
		2500 * time.Millisecond, 5 * time.Second, 10 * time.Second, 30 * time.Second,
		time.Minute, 5 * time.Minute, 30 * time.Minute, time.Hour,
	}
	// rpcBuckets span a method from an in-memory answer to its timeout.
	rpcBuckets = []time.Duration{
		time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond, 10 * time.Millisecond,
		25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond,
		500 * time.Millisecond, time.Second, 2500 * time.Millisecond, 5 * time.Second, 10 * time.Second, 30 * time.Second,
	}
)
