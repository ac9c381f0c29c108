package modbus

import (
	"testing"
	"time"
)

func TestFrameGap(t *testing.T) {
	for _, tc := range []struct {
		baud int
		want time.Duration
	}{
		{1200, 32083334 * time.Nanosecond},
		{9600, 4010417 * time.Nanosecond},
		{19200, 2005209 * time.Nanosecond},
		{38400, 1750 * time.Microsecond},
		{115200, 1750 * time.Microsecond},
		{0, 1750 * time.Microsecond},
	} {
		if got := frameGap(tc.baud); got != tc.want {
			t.Errorf("frameGap(%d) = %v; want %v", tc.baud, got, tc.want)
		}
	}
}

func TestWireTime(t *testing.T) {
	if got, want := wireTime(255, 9600), 292187500*time.Nanosecond; got != want {
		t.Errorf("wireTime(255, 9600) = %v; want %v", got, want)
	}
}
