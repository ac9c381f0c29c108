package mqtt

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/iot-hub/agent/internal/backoff/backofftest"
)

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
// back comes within backofftest.ReturnBound of its return, whatever the draws: every
// wait, from r = 0 (an immediate retry) to r → 1, is at most BackoffMax,
// so the wait under way at the return ends within it. With r → 1 at
// every attempt the delay is nearly all of BackoffMax; a thousand seeded
// draws fall within it too. (r = 0 at every attempt would retry at once
// forever, and never reach the return.)
func TestReturnAfterOutageWithDefaults(t *testing.T) {
	if max := DefaultConfig().BackoffMax; max > backofftest.ReturnBound {
		t.Errorf("default BackoffMax = %v; want at most %v: it bounds the return", max, backofftest.ReturnBound)
	}
	for _, r := range []float64{0, almostOne} {
		f := drawn(func() float64 { return r })
		for n := range 64 {
			if w := f(n); w < 0 || w > backofftest.ReturnBound {
				t.Errorf("backoff(%d) at draw %v = %v; want within [0, %v]", n, r, w, backofftest.ReturnBound)
				break
			}
		}
	}
	slowest := backofftest.Returns(t, 1, backofftest.Outage, func(int) func(int) time.Duration {
		return drawn(func() float64 { return almostOne })
	})[0]
	delays := backofftest.Returns(t, 1000, backofftest.Outage, seeded)
	t.Logf("first attempt after the return: %v with the longest waits; %v .. %v with 1,000 seeded draws",
		slowest, delays[0], delays[len(delays)-1])
	if slowest > backofftest.ReturnBound {
		t.Errorf("with the longest waits, the first attempt came %v after the broker's return; want at most %v", slowest, backofftest.ReturnBound)
	}
	if last := delays[len(delays)-1]; last > backofftest.ReturnBound {
		t.Errorf("with seeded draws, a first attempt came %v after the broker's return; want at most %v", last, backofftest.ReturnBound)
	}
}

// Issue 21's fleet: 1,000 gateways that lost the broker at the same
// instant, each with its own draws, come back after issue 17's outage 99%
// within 15 s of the broker's return, at most a fifth of them in any one
// second.
func TestFleetReturnAfterOutageWithDefaults(t *testing.T) {
	backofftest.CheckFleet(t, seeded)
}

// A BackoffMin above the default BackoffMax, with BackoffMax left out,
// raises BackoffMax to it: a configuration of an older version that set
// only BackoffMin stays valid.
func TestBackoffMaxFollowsALongBackoffMin(t *testing.T) {
	c := Config{Settings: Settings{Broker: "mqtt://broker:1883", BackoffMin: time.Minute}, DeviceID: "gw"}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate(BackoffMin 1m) = %v; want nil", err)
	}
	if got := c.withDefaults().BackoffMax; got != time.Minute {
		t.Errorf("BackoffMax with BackoffMin 1m = %v; want 1m", got)
	}
}
