package clocktest_test

import (
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/iot-hub/agent/internal/clocktest"
)

// TestMain fails the package's tests if any leaves a goroutine behind:
// an AfterFunc's.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fired reports whether t's channel holds a time, and takes it.
func fired(c <-chan time.Time) (time.Time, bool) {
	select {
	case at := <-c:
		return at, true
	default:
		return time.Time{}, false
	}
}

func TestTimersFireWhenTheClockPassesThem(t *testing.T) {
	c := clocktest.New(clocktest.Start)
	late, early := c.NewTimer(2*time.Second), c.NewTimer(time.Second)
	if c.Timers() != 2 {
		t.Fatalf("Timers() = %d; want 2", c.Timers())
	}
	c.Advance(999 * time.Millisecond)
	if _, ok := fired(early.C()); ok {
		t.Fatal("a 1s timer fired at 999ms")
	}
	c.Advance(time.Millisecond)
	if at, ok := fired(early.C()); !ok || !at.Equal(clocktest.Start.Add(time.Second)) {
		t.Fatalf("the 1s timer at 1s: fired %v at %v; want at Start+1s", ok, at)
	}
	if _, ok := fired(late.C()); ok {
		t.Fatal("a 2s timer fired at 1s")
	}
	if late.Stop() != true || late.Stop() != false {
		t.Error("Stop of an armed timer, then again: want true, then false")
	}
	c.Advance(time.Hour)
	if _, ok := fired(late.C()); ok {
		t.Error("a stopped timer fired")
	}
	if c.Timers() != 0 {
		t.Errorf("Timers() = %d after every timer fired or stopped; want 0", c.Timers())
	}
}

func TestResetRearmsAndDropsAStaleTime(t *testing.T) {
	c := clocktest.New(clocktest.Start)
	tm := c.NewTimer(time.Second)
	c.Advance(time.Second) // fired, not received
	if tm.Reset(time.Minute) {
		t.Error("Reset of a timer that fired reported it armed")
	}
	if _, ok := fired(tm.C()); ok {
		t.Fatal("the time of the firing before Reset is still received after it")
	}
	c.Advance(59 * time.Second)
	if _, ok := fired(tm.C()); ok {
		t.Fatal("fired before the minute of its Reset")
	}
	c.Advance(time.Second)
	if _, ok := fired(tm.C()); !ok {
		t.Fatal("did not fire a minute after its Reset")
	}
	tm.Reset(0)
	if _, ok := fired(tm.C()); !ok {
		t.Error("Reset(0) did not fire at once")
	}
}

func TestAfterFuncAndASetBackClock(t *testing.T) {
	c := clocktest.New(clocktest.Start)
	called := make(chan struct{})
	c.AfterFunc(time.Second, func() { close(called) })
	c.Advance(-time.Hour) // set back by NTP: fires nothing
	select {
	case <-called:
		t.Fatal("called after the clock was set back")
	case <-time.After(10 * time.Millisecond):
	}
	c.Advance(time.Hour + time.Second)
	<-called // fails the test by its timeout if never called
	if got := c.Now(); !got.Equal(clocktest.Start.Add(time.Second)) {
		t.Errorf("Now() = %v; want Start+1s", got)
	}
}
