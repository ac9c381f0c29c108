package sensors

import (
	"testing"
	"time"
)

func TestNextRead(t *testing.T) {
	const s, m = time.Second, time.Minute
	tests := []struct {
		interval   time.Duration
		failures   int
		maxBackoff time.Duration
		want       time.Duration
	}{
		{s, 0, m, s},
		{s, 1, m, s},
		{s, 2, m, 2 * s},
		{s, 3, m, 4 * s},
		{s, 6, m, 32 * s},
		{s, 7, m, m},
		{s, 1000, m, m},
		{10 * m, 5, m, 10 * m}, // the cap is never below the interval
		{3 * s, 3, 10 * s, 10 * s},
	}
	for _, tt := range tests {
		if got := nextRead(tt.interval, tt.failures, tt.maxBackoff); got != tt.want {
			t.Errorf("nextRead(%v, %d, %v) = %v; want %v", tt.interval, tt.failures, tt.maxBackoff, got, tt.want)
		}
	}
}
