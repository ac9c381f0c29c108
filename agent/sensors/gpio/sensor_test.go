package gpio

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/iot-hub/agent/agent/sensors"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeLine is a line a test drives: set changes its level and signals
// an edge, as the kernel's character device does for a line configured
// for both edges.
type fakeLine struct {
	mu     sync.Mutex
	level  bool
	edges  chan struct{}
	closed bool
	opened [4]string // chip, line, pull, edge
}

func newFakeLine(level bool) *fakeLine {
	return &fakeLine{level: level, edges: make(chan struct{}, 1024)}
}

func (f *fakeLine) open(chip, line, pull, edge string) (Line, error) {
	f.opened = [4]string{chip, line, pull, edge}
	return f, nil
}

func (f *fakeLine) set(level bool) {
	f.mu.Lock()
	changed := f.level != level
	f.level = level
	f.mu.Unlock()
	if changed {
		f.edges <- struct{}{}
	}
}

func (f *fakeLine) Read() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.level
}

func (f *fakeLine) WaitForEdge(timeout time.Duration) bool {
	select {
	case <-f.edges:
		return true
	case <-time.After(timeout):
		return false
	}
}

func (f *fakeLine) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}

func TestInput(t *testing.T) {
	f := newFakeLine(true)
	s := InputSettings{Line: "GPIO17", ActiveLow: true}
	s.SetDefaults()
	in, err := NewInput("door", s, f.open)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if f.opened != [4]string{"gpiochip0", "GPIO17", "none", ""} {
		t.Errorf("opened %q; want gpiochip0 GPIO17, no pull, no edge", f.opened)
	}
	for _, tc := range []struct {
		level bool
		want  float64
	}{{true, 0}, {false, 1}} {
		f.set(tc.level)
		rs, err := in.Read(context.Background())
		if err != nil || len(rs) != 1 || rs[0].Metric != "state" || rs[0].Value != tc.want {
			t.Errorf("level %v, active low: Read = %v, %v; want state %v", tc.level, rs, err, tc.want)
		}
	}
}

// pulse drives one S0 pulse: low for 40 ms, then high for 40 ms; with
// bounce, the contact chatters for 2 ms at each edge.
func pulse(f *fakeLine, bounce bool) {
	for _, level := range []bool{false, true} {
		if bounce {
			f.bounce()
		}
		f.set(level)
		time.Sleep(40 * time.Millisecond)
	}
}

// bounce is a contact bouncing before it settles: four flips away and
// back, their eight edges queued at once, as the kernel queues them,
// and the line where it was. However slowly the test is scheduled, the
// counter sees the edges and, after its debounce, no change of level;
// the set that follows is the one change. (Flips with sleeps between
// them counted a flip as a change whenever a sleep outlasted the
// debounce on a loaded machine.)
func (f *fakeLine) bounce() {
	for range 8 {
		f.edges <- struct{}{}
	}
}

func counter(t *testing.T, dir string, f *fakeLine, edge string) *Counter {
	t.Helper()
	s := CounterSettings{Line: "17", Pull: PullUp, Edge: edge, Scale: 0.001, Unit: "kW.h", Metric: "energy"}
	s.SetDefaults()
	c, err := NewCounter("meter", dir, s, f.open)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func read(t *testing.T, c *Counter) float64 {
	t.Helper()
	rs, err := c.Read(context.Background())
	if err != nil || len(rs) != 1 || rs[0].Metric != "energy" || rs[0].Unit != "kW.h" {
		t.Fatalf("Read = %v, %v", rs, err)
	}
	return rs[0].Value
}

// TestCounterDebouncesAndPersists counts clean and bouncing pulses
// once each, ignores a glitch shorter than the debounce, and goes on
// from the saved count after a restart, never counting a pulse twice.
func TestCounterDebouncesAndPersists(t *testing.T) {
	dir := t.TempDir()
	f := newFakeLine(true)
	c := counter(t, dir, f, EdgeFalling)
	if f.opened[2] != "up" || f.opened[3] != "both" {
		t.Errorf("opened %q; want a pull-up and both edges, to see the line settle", f.opened)
	}
	pulse(f, false)
	pulse(f, true)
	pulse(f, false)
	f.set(false) // a 1 ms glitch: shorter than the 10 ms debounce
	time.Sleep(time.Millisecond)
	f.set(true)
	time.Sleep(40 * time.Millisecond)
	if got := read(t, c); got != 0.003 {
		t.Errorf("after 3 pulses (one bouncing) and a glitch: %v kW.h; want 0.003", got)
	}
	b, err := os.ReadFile(filepath.Join(dir, "gpio-meter.count"))
	if err != nil || string(b) != "3\n" {
		t.Errorf("count file %q, %v; want 3, saved before the reading went out", b, err)
	}
	pulse(f, false)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	// A clean stop saved the fourth; a new start goes on from it.
	f2 := newFakeLine(true)
	c2 := counter(t, dir, f2, EdgeFalling)
	defer c2.Close()
	if got := read(t, c2); got != 0.004 {
		t.Errorf("after a restart: %v kW.h; want 0.004, the count kept", got)
	}
	pulse(f2, false)
	if got := read(t, c2); got != 0.005 {
		t.Errorf("a pulse after the restart: %v kW.h; want 0.005", got)
	}
}

// TestCounterBothEdges counts each settled change.
func TestCounterBothEdges(t *testing.T) {
	f := newFakeLine(false)
	c := counter(t, t.TempDir(), f, EdgeBoth)
	defer c.Close()
	pulse(f, true) // low (no change), then high: one change
	f.set(false)
	time.Sleep(40 * time.Millisecond)
	if got := read(t, c); got != 0.002 {
		t.Errorf("two changes: %v; want 0.002", got)
	}
}

// TestStillCounterWritesNothing: a read of a count already on disk
// writes nothing; a read after a pulse writes the new count.
func TestStillCounterWritesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "gpio-meter.count")
	f := newFakeLine(true)
	c := counter(t, dir, f, EdgeFalling)
	defer c.Close()
	if got := read(t, c); got != 0 {
		t.Fatalf("a new meter reads %v; want 0", got)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("count file after reading 0 with none saved: %v; want none written", err)
	}
	pulse(f, false)
	read(t, c)
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatalf("count file after a pulse: %v", err)
	}
	for range 3 {
		read(t, c)
	}
	if st, err := os.Stat(path); err != nil || !st.ModTime().Equal(old) {
		t.Errorf("count file after 3 reads of an unchanged count: %v, %v; want it untouched since %v", st.ModTime(), err, old)
	}
	pulse(f, false)
	if got := read(t, c); got != 0.002 {
		t.Errorf("after a second pulse: %v; want 0.002", got)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "2\n" {
		t.Errorf("count file %q, %v; want 2 once it changed", b, err)
	}
}

func TestDamagedCountFileIsAnError(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "gpio-meter.count"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := CounterSettings{Line: "17"}
	s.SetDefaults()
	if _, err := NewCounter("meter", dir, s, newFakeLine(true).open); err == nil {
		t.Error("NewCounter with a damaged count file: nil error; want one, not a count started again from 0")
	}
}

func TestAbsentChip(t *testing.T) {
	if _, err := OpenCharDev("/dev/gpiochip99", "17", PullNone, edgeNone); !errors.Is(err, sensors.ErrAbsent) {
		t.Errorf("OpenCharDev of a chip that is not there = %v; want sensors.ErrAbsent, for the sensor to be left out", err)
	}
}
