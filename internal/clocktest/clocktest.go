// Package clocktest has the tests' fake clock: a time that moves only when
// the test moves it, for the Now func() time.Time that the agent's
// components take.
package clocktest

import (
	"sync"
	"time"
)

// Start is a fixed instant for tests that need no particular one.
var Start = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

// Clock is a fake clock. Its methods are safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// New returns a Clock that reads start until it is moved.
func New(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the clock's time; pass it as a component's Now.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock by d (backwards when d is negative: a clock
// set back by NTP).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
