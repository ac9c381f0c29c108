package i2cbus

import (
	"errors"
	"time"
)

// Errors.
var (
	// ErrClosed: the Bus was closed; no turn is granted any more.
	ErrClosed = errors.New("i2c bus closed")
	// ErrTurnOver: a driver used the bus it was handed after its turn
	// ended. It is a bug in the driver.
	ErrTurnOver = errors.New("i2c bus used outside its turn")
)

// OpenError is why a bus could not be opened. Turns during the backoff
// that follows fail with the same OpenError, so its text stays the same
// while the cause does.
type OpenError struct {
	// Path is the bus's path: "/dev/i2c-1".
	Path string
	// Err is the opener's error.
	Err error
	// Next is when the next turn will try to open the bus again.
	Next time.Time
}

// Error returns "i2cbus: open <path>: <cause>".
func (e *OpenError) Error() string { return "i2cbus: open " + e.Path + ": " + e.Err.Error() }

// Unwrap returns the opener's error.
func (e *OpenError) Unwrap() error { return e.Err }
