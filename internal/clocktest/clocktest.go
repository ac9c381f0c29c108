// Package clocktest has the tests' fake clock: a time that moves only when
// the test moves it, with timers that fire when it passes them. It is a
// clock.Clock, for the Clock that the agent's components take.
package clocktest

import (
	"slices"
	"sync"
	"time"

	"github.com/iot-hub/agent/internal/clock"
)

// Start is a fixed instant for tests that need no particular one.
var Start = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

// Clock is a fake clock. Its methods are safe for concurrent use.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*timer // armed, soonest first
}

var _ clock.Clock = (*Clock)(nil)

// New returns a Clock that reads start until it is moved.
func New(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock by d, and fires, in the order of their times,
// the timers it passes or reaches. d may be negative: a clock set back by
// NTP, which fires nothing.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []*timer
	for len(c.timers) > 0 && !c.timers[0].when.After(c.now) {
		t := c.timers[0]
		c.timers = c.timers[1:]
		t.armed = false
		due = append(due, t)
	}
	now := c.now
	c.mu.Unlock()
	for _, t := range due {
		t.fire(now)
	}
}

// Timers returns how many timers are armed: a test waits for a component
// to arm its timer before it advances the clock past it.
func (c *Clock) Timers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// NewTimer returns a timer that sends the clock's time on C once the
// clock has advanced by d.
func (c *Clock) NewTimer(d time.Duration) clock.Timer {
	t := &timer{c: c, ch: make(chan time.Time, 1)}
	t.Reset(d)
	return t
}

// AfterFunc returns a timer that calls f on a goroutine of its own once
// the clock has advanced by d.
func (c *Clock) AfterFunc(d time.Duration, f func()) clock.Timer {
	t := &timer{c: c, f: f}
	t.Reset(d)
	return t
}

// timer is a timer of a Clock.
type timer struct {
	c     *Clock
	ch    chan time.Time // nil for AfterFunc's
	f     func()
	when  time.Time // guarded by c.mu, as armed
	armed bool
}

func (t *timer) C() <-chan time.Time { return t.ch }

func (t *timer) fire(now time.Time) {
	if t.f != nil {
		go t.f()
		return
	}
	select {
	case t.ch <- now:
	default:
	}
}

func (t *timer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	return t.disarmLocked()
}

func (t *timer) Reset(d time.Duration) bool {
	t.c.mu.Lock()
	was := t.disarmLocked()
	if t.ch != nil {
		select {
		case <-t.ch:
		default:
		}
	}
	t.when, t.armed = t.c.now.Add(d), true
	i, _ := slices.BinarySearchFunc(t.c.timers, t.when, func(x *timer, w time.Time) int {
		if x.when.After(w) {
			return 1
		}
		return -1 // after those of the same time: timers armed first fire first
	})
	t.c.timers = slices.Insert(t.c.timers, i, t)
	fireNow := d <= 0
	t.c.mu.Unlock()
	if fireNow {
		t.c.Advance(0)
	}
	return was
}

// disarmLocked takes t off the clock's timers; c.mu must be held.
func (t *timer) disarmLocked() bool {
	if !t.armed {
		return false
	}
	t.armed = false
	t.c.timers = slices.DeleteFunc(t.c.timers, func(x *timer) bool { return x == t })
	return true
}
