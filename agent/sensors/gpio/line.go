package gpio

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"periph.io/x/conn/v3/driver/driverreg"
	pgpio "periph.io/x/conn/v3/gpio"
	"periph.io/x/host/v3/gpioioctl"

	"github.com/iot-hub/agent/agent/sensors"
)

// Line is one GPIO input line, configured.
type Line interface {
	// Read returns the line's level: true is high.
	Read() bool
	// WaitForEdge waits up to timeout for an edge of the kind the line
	// was opened for, and reports whether one came.
	WaitForEdge(timeout time.Duration) bool
	// Close releases the line.
	Close() error
}

// Opener opens line (a name such as GPIO17, or a number) of chip
// (gpiochip0 or /dev/gpiochip0) as an input with pull and, for a
// counter, edge detection.
type Opener func(chip, line, pull, edge string) (Line, error)

// Pulls and edges, as the configuration names them.
const (
	PullNone = "none"
	PullUp   = "up"
	PullDown = "down"

	EdgeRising  = "rising"
	EdgeFalling = "falling"
	EdgeBoth    = "both"
	edgeNone    = ""
)

var pulls = map[string]pgpio.Pull{PullNone: pgpio.Float, PullUp: pgpio.PullUp, PullDown: pgpio.PullDown}

var edges = map[string]pgpio.Edge{edgeNone: pgpio.NoEdge, EdgeRising: pgpio.RisingEdge, EdgeFalling: pgpio.FallingEdge, EdgeBoth: pgpio.BothEdges}

var initOnce = sync.OnceValue(func() error {
	_, err := driverreg.Init()
	return err
})

// OpenCharDev opens a line through the kernel's GPIO character device.
// A chip that is not there is sensors.ErrAbsent.
func OpenCharDev(chip, line, pull, edge string) (Line, error) {
	path := chip
	if !strings.HasPrefix(path, "/") {
		path = "/dev/" + chip
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("gpio: no %s: %w", path, sensors.ErrAbsent)
	}
	if err := initOnce(); err != nil {
		return nil, fmt.Errorf("gpio: %w", err)
	}
	for _, c := range gpioioctl.Chips {
		if c.Path() != path && c.Name() != filepath.Base(path) {
			continue
		}
		l := c.ByName(line)
		if n, err := strconv.Atoi(line); l == nil && err == nil {
			l = c.ByNumber(n)
		}
		if l == nil {
			return nil, fmt.Errorf("gpio: %s has no line %q", path, line)
		}
		if err := l.In(pulls[pull], edges[edge]); err != nil {
			return nil, fmt.Errorf("gpio: %s line %s: %w", path, line, err)
		}
		return charDevLine{l}, nil
	}
	return nil, fmt.Errorf("gpio: %s is not a GPIO chip the kernel lists: %w", path, sensors.ErrAbsent)
}

// charDevLine is a periph.io line as a Line.
type charDevLine struct{ l *gpioioctl.GPIOLine }

func (c charDevLine) Read() bool                             { return c.l.Read() == pgpio.High }
func (c charDevLine) WaitForEdge(timeout time.Duration) bool { return c.l.WaitForEdge(timeout) }
func (c charDevLine) Close() error                           { c.l.Close(); return nil }
