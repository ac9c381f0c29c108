package i2cbus

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/host/v3/sysfs"

	"github.com/iot-hub/agent/internal/backoff"
)

// Backoff between failed opens of a bus.
const (
	// MinBackoff is the wait after the first failed open.
	MinBackoff = time.Second
	// MaxBackoff caps the wait, however many opens failed.
	MaxBackoff = 30 * time.Second
)

// openBackoff returns the wait after the n-th failed open in a row
// (n ≥ 1): MinBackoff doubling up to MaxBackoff, jittered over its upper
// half so that the sensors of a fleet do not retry in lockstep.
func openBackoff(n int) time.Duration { return backoff.Jittered(MinBackoff, MaxBackoff, n) }

// openSysfs opens /dev/i2c-N with periph.io's sysfs driver, which needs
// no host.Init.
func openSysfs(path string) (i2c.BusCloser, error) {
	n, ok := strings.CutPrefix(path, "/dev/i2c-")
	num, err := strconv.Atoi(n)
	if !ok || err != nil || num < 0 {
		return nil, errors.New("not a /dev/i2c-N path")
	}
	bus, err := sysfs.NewI2C(num)
	if err != nil {
		// sysfs formats the cause with %v: tell a missing adapter apart
		// here, so that callers can match fs.ErrNotExist.
		if _, serr := os.Stat(path); errors.Is(serr, fs.ErrNotExist) {
			return nil, fmt.Errorf("no such device (is I2C enabled, and the adapter's driver loaded?): %w", fs.ErrNotExist)
		}
		return nil, err
	}
	return bus, nil
}
