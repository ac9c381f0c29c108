package certs

import (
	"crypto/x509"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func TestRenewAtBounds(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range 10000 {
		life := time.Duration(1+rnd.Int64N(int64(5*365*24*time.Hour))) * time.Nanosecond
		if i%2 == 0 {
			life = time.Duration(rnd.Int64N(400*24)+1) * time.Hour
		}
		c := &x509.Certificate{NotBefore: t0.Add(-time.Duration(rnd.Int64N(int64(life)))), NotAfter: time.Time{}}
		c.NotAfter = c.NotBefore.Add(life)
		got := RenewAt(c, rnd.Float64)
		lo := c.NotBefore.Add(time.Duration(float64(life) * 0.7))
		hi := c.NotBefore.Add(time.Duration(float64(life) * 0.9))
		if got.Before(lo) || got.After(hi) {
			t.Fatalf("RenewAt(life %s) = %s; want in [%s, %s]", life, got, lo, hi)
		}
	}
}

func TestRenewAtEdges(t *testing.T) {
	c := &x509.Certificate{NotBefore: t0, NotAfter: t0.Add(100 * time.Hour)}
	tests := []struct {
		name string
		r    float64
		want time.Duration
	}{
		{"zero", 0, 70 * time.Hour},
		{"half", 0.5, 80 * time.Hour},
		{"one", 1, 90 * time.Hour},
		{"negative", -3, 70 * time.Hour},
		{"above one", 7, 90 * time.Hour},
		{"NaN", math.NaN(), 70 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := RenewAt(c, func() float64 { return tt.r })
			if d := got.Sub(t0); d.Round(time.Millisecond) != tt.want {
				t.Errorf("RenewAt(rnd=%v) = NotBefore+%s; want +%s", tt.r, d, tt.want)
			}
		})
	}
}

// TestRenewAtSpread: the default source spreads renewals over the window.
func TestRenewAtSpread(t *testing.T) {
	c := &x509.Certificate{NotBefore: t0, NotAfter: t0.Add(100 * time.Hour)}
	lo, hi := 1.0, 0.0
	for range 2000 {
		f := float64(RenewAt(c, nil).Sub(t0)) / float64(100*time.Hour)
		lo, hi = min(lo, f), max(hi, f)
	}
	if lo < 0.7 || hi > 0.9 || lo > 0.72 || hi < 0.88 {
		t.Errorf("RenewAt(nil) over 2000 draws spans [%.3f, %.3f]; want about [0.70, 0.90]", lo, hi)
	}
}
