// Package clock is the agent's one source of time: what time it is, and
// the timers that wait for a time. Components take a [Clock] in their
// Config (nil meaning [System]), so that a test's fake clock
// (internal/clocktest) moves their timers along with the time they read,
// and a faked Now can never drift from the waits.
package clock

import "time"

// Clock tells the time and arms timers on it.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// NewTimer returns a timer that sends the time on its channel once d
	// has passed, as time.NewTimer.
	NewTimer(d time.Duration) Timer
	// AfterFunc calls f on a goroutine of its own once d has passed, as
	// time.AfterFunc; the timer's C is nil.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a timer of a Clock: a *time.Timer's methods, its channel
// being C.
type Timer interface {
	// C returns the channel the timer sends on; nil for AfterFunc's.
	C() <-chan time.Time
	// Stop stops the timer, and reports whether it was armed, as
	// (*time.Timer).Stop.
	Stop() bool
	// Reset arms the timer for d from now, and reports whether it was
	// armed, as (*time.Timer).Reset. Its channel is emptied first (Go 1.23
	// timers), so no stale time is received after.
	Reset(d time.Duration) bool
}

// System is the system's clock.
var System Clock = system{}

// Or returns c, or System when c is nil: for a Config's default.
func Or(c Clock) Clock {
	if c == nil {
		return System
	}
	return c
}

type system struct{}

func (system) Now() time.Time { return time.Now() }

func (system) NewTimer(d time.Duration) Timer { return systemTimer{time.NewTimer(d)} }

func (system) AfterFunc(d time.Duration, f func()) Timer { return systemTimer{time.AfterFunc(d, f)} }

type systemTimer struct{ t *time.Timer }

func (t systemTimer) C() <-chan time.Time        { return t.t.C }
func (t systemTimer) Stop() bool                 { return t.t.Stop() }
func (t systemTimer) Reset(d time.Duration) bool { return t.t.Reset(d) }
