//go:build !linux

package serialport

import (
	"errors"
	"fmt"
)

// openTTY fails: the agent's serial ports need Linux's termios2.
func openTTY(cfg Config) (device, error) {
	return nil, fmt.Errorf("%s: %w", cfg.Path, errors.ErrUnsupported)
}
