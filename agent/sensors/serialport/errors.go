package serialport

import (
	"errors"
	"fmt"
	"time"
)

// Errors.
var (
	// ErrTimeout: a [Conn] read's timeout passed with nothing read. The
	// port is fine; the device was silent.
	ErrTimeout = errors.New("serial read timed out")
	// ErrPortLost: a read or write on the port failed other than by a
	// timeout: the adapter was pulled, the device hung up. [Port.Do]
	// closes the port, and the next transaction reopens it.
	ErrPortLost = errors.New("serial port lost")
	// ErrClosed: the [Port] (or the [Ports]) was closed; nothing more can
	// go through it.
	ErrClosed = errors.New("serial port closed")
	// ErrUnavailable: the port could not be opened (no such device, busy,
	// no permission, the symlink dangles). An [*OpenError] says why and
	// when the next attempt is.
	ErrUnavailable = errors.New("serial port unavailable")
)

// OpenError is [Port.Do]'s error when the port is closed and cannot be
// opened: either the attempt failed, or an earlier one failed less than
// the backoff ago and Do did not try again. It matches ErrUnavailable and
// Err with errors.Is.
type OpenError struct {
	// Path is the configured path.
	Path string
	// Err is the last attempt's error.
	Err error
	// Attempts counts the failed attempts in a row.
	Attempts int
	// Next is the earliest time of the next attempt.
	Next time.Time
	// now is when the error was made, for the message.
	now time.Time
}

// Error reads "serialport: open /dev/ttyUSB0: no such file or directory
// (3 attempts failed; next attempt in 4s, at 10:15:34.250Z)", the wait
// counted from when the error was made.
func (e *OpenError) Error() string {
	return fmt.Sprintf("serialport: open %s: %v (%d attempts failed; next attempt in %v, at %s)",
		e.Path, e.Err, e.Attempts, e.Next.Sub(e.now).Round(time.Millisecond), e.Next.UTC().Format("15:04:05.000Z"))
}

// Unwrap returns ErrUnavailable and the attempt's error.
func (e *OpenError) Unwrap() []error { return []error{ErrUnavailable, e.Err} }
