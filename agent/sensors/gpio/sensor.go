package gpio

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/iot-hub/agent/agent/sensors"
	"github.com/iot-hub/agent/internal/atomicfile"
)

// Input reads the state of a line.
type Input struct {
	name string
	s    InputSettings
	line Line
}

// NewInput opens the line of s with open (OpenCharDev when nil).
func NewInput(name string, s InputSettings, open Opener) (*Input, error) {
	if open == nil {
		open = OpenCharDev
	}
	l, err := open(s.Chip, s.Line, s.Pull, edgeNone)
	if err != nil {
		return nil, err
	}
	return &Input{name: name, s: s, line: l}, nil
}

// Name returns the configured name.
func (in *Input) Name() string { return in.name }

// Read returns the line's state, 1 or 0.
func (in *Input) Read(ctx context.Context) ([]sensors.Reading, error) {
	v := 0.0
	if in.line.Read() != in.s.ActiveLow {
		v = 1
	}
	return []sensors.Reading{{Metric: in.s.Metric, Value: v}}, nil
}

// Close releases the line.
func (in *Input) Close() error { return in.line.Close() }

// Counter counts the pulses on a line, its count kept in the state
// directory.
type Counter struct {
	name string
	s    CounterSettings
	line Line
	path string

	mu     sync.Mutex
	count  uint64 // pulses since the first start
	stable bool   // the line's last stable level

	saved uint64 // the count on disk; Read's and Close's, which do not overlap

	stop chan struct{}
	done chan struct{}
}

// edgeWait bounds each wait for an edge, so that Close is seen.
const edgeWait = 200 * time.Millisecond

// NewCounter opens the line of s with open (OpenCharDev when nil) and
// starts counting from the count saved in stateDir.
func NewCounter(name, stateDir string, s CounterSettings, open Opener) (*Counter, error) {
	if open == nil {
		open = OpenCharDev
	}
	c := &Counter{name: name, s: s, path: filepath.Join(stateDir, "gpio-"+name+".count"),
		stop: make(chan struct{}), done: make(chan struct{})}
	b, err := os.ReadFile(c.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("gpio: %w", err)
	default:
		if c.count, err = strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err != nil {
			return nil, fmt.Errorf("gpio: count file %s is damaged: %w", c.path, err)
		}
		c.saved = c.count
	}
	if c.line, err = open(s.Chip, s.Line, s.Pull, EdgeBoth); err != nil {
		return nil, err
	}
	c.stable = c.line.Read()
	go c.watch()
	return c, nil
}

// Name returns the configured name.
func (c *Counter) Name() string { return c.name }

// watch counts pulses until Close: after an edge it waits until the
// line has had no edge for the debounce time, then reads the level; a
// level other than the last stable one is a change, and a pulse when it
// is the configured edge's.
func (c *Counter) watch() {
	defer close(c.done)
	for !c.stopped() {
		if !c.line.WaitForEdge(edgeWait) {
			continue
		}
		for c.line.WaitForEdge(c.s.Debounce) { // bouncing: wait until it settles
			if c.stopped() {
				return
			}
		}
		level := c.line.Read()
		c.mu.Lock()
		if level != c.stable {
			c.stable = level
			if c.s.Edge == EdgeBoth || level == (c.s.Edge == EdgeRising) {
				c.count++
			}
		}
		c.mu.Unlock()
	}
}

// stopped reports whether Close has been called.
func (c *Counter) stopped() bool {
	select {
	case <-c.stop:
		return true
	default:
		return false
	}
}

// Read saves the count, when it has changed, and returns it, scaled.
func (c *Counter) Read(ctx context.Context) ([]sensors.Reading, error) {
	c.mu.Lock()
	n := c.count
	c.mu.Unlock()
	if err := c.save(n); err != nil {
		return nil, err
	}
	return []sensors.Reading{{Metric: c.s.Metric, Value: float64(n) * c.s.Scale, Unit: c.s.Unit}}, nil
}

// save writes n to the count file, unless it holds n already: a meter
// that is still costs no write (two fsyncs) a read.
func (c *Counter) save(n uint64) error {
	if n == c.saved {
		return nil
	}
	if err := atomicfile.WriteFile(c.path, []byte(strconv.FormatUint(n, 10)+"\n")); err != nil {
		return fmt.Errorf("gpio: save count: %w", err)
	}
	c.saved = n
	return nil
}

// Close stops counting, saves the count and releases the line.
func (c *Counter) Close() error {
	close(c.stop)
	<-c.done
	c.mu.Lock()
	n := c.count
	c.mu.Unlock()
	return errors.Join(c.save(n), c.line.Close())
}
