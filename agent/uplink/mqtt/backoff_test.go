package mqtt

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	f := reconnectBackoff(time.Second, 2*time.Minute)
	if d := f(0); d != 0 {
		t.Errorf("backoff(0) = %v; want 0: the first attempt does not wait", d)
	}
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 8: 2 * time.Minute, 50: 2 * time.Minute} {
		for range 100 {
			if d := f(n); d < want/2 || d > want {
				t.Fatalf("backoff(%d) = %v; want within [%v, %v]", n, d, want/2, want)
			}
		}
	}
	seen := map[time.Duration]bool{}
	for range 20 {
		seen[f(5)] = true
	}
	if len(seen) < 5 {
		t.Errorf("backoff(5) took %d values in 20 calls; want jitter", len(seen))
	}
}
