package backoff_test

import (
	"math"
	"testing"
	"time"

	"github.com/iot-hub/agent/internal/backoff"
)

func TestCapped(t *testing.T) {
	const s = time.Second
	for _, tt := range []struct {
		lo, hi time.Duration
		n      int
		want   time.Duration
	}{
		{s, 30 * s, 0, s}, {s, 30 * s, 1, s}, {s, 30 * s, 2, 2 * s}, {s, 30 * s, 5, 16 * s},
		{s, 30 * s, 6, 30 * s}, {s, 30 * s, 1000, 30 * s}, {10 * s, s, 3, 10 * s},
	} {
		if got := backoff.Capped(tt.lo, tt.hi, tt.n); got != tt.want {
			t.Errorf("Capped(%v, %v, %d) = %v; want %v", tt.lo, tt.hi, tt.n, got, tt.want)
		}
	}
}

func TestJittered(t *testing.T) {
	seen := map[time.Duration]bool{}
	for n := 1; n <= 40; n++ {
		want := backoff.Capped(time.Second, time.Minute, n)
		for range 20 {
			d := backoff.Jittered(time.Second, time.Minute, n)
			if d < want/2 || d > want {
				t.Fatalf("Jittered(1s, 1m, %d) = %v; want within [%v, %v]", n, d, want/2, want)
			}
			seen[d] = true
		}
	}
	if len(seen) < 100 {
		t.Errorf("Jittered took %d values in 800 calls; want jitter", len(seen))
	}
}

func TestJitteredBy(t *testing.T) {
	for _, tt := range []struct {
		r    float64
		want time.Duration
	}{{0, 4 * time.Second}, {0.5, 6 * time.Second}, {0.999, 7996 * time.Millisecond}} {
		if got := backoff.JitteredBy(time.Second, time.Minute, 4, tt.r); got != tt.want {
			t.Errorf("JitteredBy(1s, 1m, 4, %v) = %v; want %v", tt.r, got, tt.want)
		}
	}
}

func TestFullJitter(t *testing.T) {
	const s = time.Second
	almostOne := math.Nextafter(1, 0)
	for _, tt := range []struct {
		n    int
		r    float64
		want time.Duration
	}{
		{1, 0, 0}, {1, 0.5, s / 2}, {4, 0, 0}, {4, 0.25, 2 * s}, {4, 0.5, 4 * s},
		{4, almostOne, 8*s - 1}, {0, 0.5, s / 2}, {1000, 0.5, 30 * s}, {1000, almostOne, time.Minute - 1},
	} {
		if got := backoff.FullJitter(s, time.Minute, tt.n, tt.r); got != tt.want {
			t.Errorf("FullJitter(1s, 1m, %d, %v) = %v; want %v", tt.n, tt.r, got, tt.want)
		}
	}
}
