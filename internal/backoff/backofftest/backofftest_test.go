package backofftest_test

import (
	"testing"
	"time"

	"github.com/iot-hub/agent/internal/backoff/backofftest"
)

const s = time.Second

// constant gives every gateway the wait d, whatever the retry.
func constant(d time.Duration) func(int) func(int) time.Duration {
	return func(int) func(int) time.Duration { return func(int) time.Duration { return d } }
}

// Waits without jitter keep a fleet that failed at the same instant in
// step: all of it comes back in the same instant.
func TestReturnsInStepWithoutJitter(t *testing.T) {
	delays := backofftest.Returns(t, 100, 60*s, constant(7*s)) // attempts at 0, 7, ..., 56, 63 s
	if delays[0] != 3*s || delays[99] != 3*s {
		t.Errorf("Returns(100, 60s, 7s waits) = %v .. %v; want 3s for all", delays[0], delays[99])
	}
	if got := backofftest.Peak(delays, s); got != 100 {
		t.Errorf("Peak = %d; want 100, all in one second", got)
	}
}

// An attempt at the very instant of the return connects.
func TestReturnsAtTheReturn(t *testing.T) {
	if d := backofftest.Returns(t, 1, 60*s, constant(10*s)); d[0] != 0 {
		t.Errorf("Returns(1, 60s, 10s waits) = %v; want [0s]", d)
	}
}

// Gateway g waiting g+1 seconds each time: each its own wait function.
func TestReturnsPerGateway(t *testing.T) {
	delays := backofftest.Returns(t, 4, 10*s, func(g int) func(int) time.Duration {
		return func(int) time.Duration { return time.Duration(g+1) * s }
	})
	// attempts at ... 10 (1 s), 10 (2 s), 12 (3 s), 12 (4 s)
	want := []time.Duration{0, 0, 2 * s, 2 * s}
	for i := range want {
		if delays[i] != want[i] {
			t.Fatalf("Returns(4, 10s, g+1 s waits) = %v; want %v", delays, want)
		}
	}
}

func TestQuantile(t *testing.T) {
	delays := make([]time.Duration, 1000)
	for i := range delays {
		delays[i] = time.Duration(i+1) * time.Millisecond // 1 ms .. 1000 ms
	}
	for _, tt := range []struct {
		q    float64
		want time.Duration
	}{{0.99, 990 * time.Millisecond}, {0.5, 500 * time.Millisecond}, {1, s}, {0, time.Millisecond}} {
		if got := backofftest.Quantile(delays, tt.q); got != tt.want {
			t.Errorf("Quantile(1..1000 ms, %v) = %v; want %v", tt.q, got, tt.want)
		}
	}
}

func TestPeak(t *testing.T) {
	ms := time.Millisecond
	for _, tt := range []struct {
		delays []time.Duration
		want   int
	}{
		{[]time.Duration{0, 999 * ms, s, 1999 * ms}, 2},         // [0, 1 s) and [1 s, 2 s): two each
		{[]time.Duration{0, 500 * ms, 1400 * ms, 1450 * ms}, 3}, // [500 ms, 1.5 s)
		{[]time.Duration{5 * s}, 1},
		{nil, 0},
	} {
		if got := backofftest.Peak(tt.delays, s); got != tt.want {
			t.Errorf("Peak(%v, 1s) = %d; want %d", tt.delays, got, tt.want)
		}
	}
}
