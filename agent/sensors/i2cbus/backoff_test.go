package i2cbus

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	seen := map[time.Duration]bool{}
	for n := 1; n <= 40; n++ {
		want := min(MinBackoff<<min(n-1, 20), MaxBackoff)
		d := openBackoff(n)
		if d < want/2 || d > want {
			t.Errorf("openBackoff(%d) = %v; want within [%v, %v]", n, d, want/2, want)
		}
		if n > 10 {
			seen[d] = true
		}
	}
	if len(seen) < 2 {
		t.Errorf("backoff at the cap took %d values in 30 calls; want jitter", len(seen))
	}
}
