package mqtt

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/iot-hub/agent/internal/backoff/backofftest"
)

// What README's "Reconnecting after an outage" promises of the defaults
// (issues 17 and 21): once the broker is back, every gateway tries again
// within returnBound, and a fleet of fleetSize gateways that lost it
// together reconnects at most fleetSize/5 in any second.
const (
	returnBound = 15 * time.Second
	fleetSize   = 1000
	fleetPeak   = fleetSize / 5
)

// outage is issue 17's: the broker was away 60 s.
const outage = 60 * time.Second

// almostOne is the largest draw below 1: the longest waits.
var almostOne = math.Nextafter(1, 0)

// drawn returns the default backoff with its jitter drawn from draw.
func drawn(draw func() float64) func(int) time.Duration {
	d := DefaultConfig()
	return reconnectBackoff(d.BackoffMin, d.BackoffMax, draw)
}

// seeded gives gateway g the default backoff with draws of its own, from
// a source seeded with g.
func seeded(g int) func(int) time.Duration {
	return drawn(rand.New(rand.NewPCG(17, uint64(g))).Float64)
}

func TestBackoff(t *testing.T) {
	d := DefaultConfig()
	f := drawn(func() float64 { return 0.5 })
	if w := f(0); w != 0 {
		t.Errorf("backoff(0) = %v; want 0: the first attempt does not wait", w)
	}
	for n, want := range map[int]time.Duration{1: d.BackoffMin / 2, 2: d.BackoffMin, 3: 2 * d.BackoffMin, 8: d.BackoffMax / 2, 50: d.BackoffMax / 2} {
		if w := f(n); w != want {
			t.Errorf("backoff(%d) at draw 0.5 = %v; want %v: half of d", n, w, want)
		}
	}
}

// After issue 17's 60 s outage, the first attempt after the broker is
// back comes within returnBound of its return, whatever the draws: every
// wait, from r = 0 (an immediate retry) to r → 1, is at most BackoffMax,
// so the wait under way at the return ends within it. With r → 1 at
// every attempt the delay is nearly all of BackoffMax; a thousand seeded
// draws fall within it too. (r = 0 at every attempt would retry at once
// forever, and never reach the return.)
func TestReturnAfterOutageWithDefaults(t *testing.T) {
	if max := DefaultConfig().BackoffMax; max > returnBound {
		t.Errorf("default BackoffMax = %v; want at most %v: it bounds the return", max, returnBound)
	}
	for _, r := range []float64{0, almostOne} {
		f := drawn(func() float64 { return r })
		for n := range 64 {
			if w := f(n); w < 0 || w > returnBound {
				t.Errorf("backoff(%d) at draw %v = %v; want within [0, %v]", n, r, w, returnBound)
				break
			}
		}
	}
	slowest := backofftest.Returns(t, 1, outage, func(int) func(int) time.Duration {
		return drawn(func() float64 { return almostOne })
	})[0]
	delays := backofftest.Returns(t, 1000, outage, seeded)
	t.Logf("first attempt after the return: %v with the longest waits; %v .. %v with 1,000 seeded draws",
		slowest, delays[0], delays[len(delays)-1])
	if slowest > returnBound {
		t.Errorf("with the longest waits, the first attempt came %v after the broker's return; want at most %v", slowest, returnBound)
	}
	if last := delays[len(delays)-1]; last > returnBound {
		t.Errorf("with seeded draws, a first attempt came %v after the broker's return; want at most %v", last, returnBound)
	}
}

// Issue 21's fleet: 1,000 gateways that lost the broker at the same
// instant, each with its own draws, come back after issue 17's outage 99%
// within 15 s of the broker's return, at most a fifth of them in any one
// second.
func TestFleetReturnAfterOutageWithDefaults(t *testing.T) {
	delays := backofftest.Returns(t, fleetSize, outage, seeded)
	p99, peak := backofftest.Quantile(delays, 0.99), backofftest.Peak(delays, time.Second)
	t.Logf("%d gateways: 99%% back within %v, all within %v; at most %d in one second",
		fleetSize, p99, delays[len(delays)-1], peak)
	if p99 > returnBound {
		t.Errorf("99%% of %d gateways back within %v of the broker's return; want within %v", fleetSize, p99, returnBound)
	}
	if peak > fleetPeak {
		t.Errorf("%d of %d gateways attempted within one second after the broker's return; want at most %d", peak, fleetSize, fleetPeak)
	}
}

// A BackoffMin above the default BackoffMax, with BackoffMax left out,
// raises BackoffMax to it: a configuration of an older version that set
// only BackoffMin stays valid.
func TestBackoffMaxFollowsALongBackoffMin(t *testing.T) {
	c := Config{Broker: "mqtt://broker:1883", DeviceID: "gw", BackoffMin: time.Minute}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate(BackoffMin 1m) = %v; want nil", err)
	}
	if got := c.withDefaults().BackoffMax; got != time.Minute {
		t.Errorf("BackoffMax with BackoffMin 1m = %v; want 1m", got)
	}
}
