package serialline

import "errors"

// Errors.
var (
	// ErrNoRecord: Read's ctx ended before a record came. The error says
	// what was skipped since the last record and, when the port is not
	// readable, the port's error (which then matches with errors.Is too).
	ErrNoRecord = errors.New("no record from the serial line")
	// ErrClosed: the sensor was closed.
	ErrClosed = errors.New("serial-line sensor closed")
)
