package serialport

import "time"

// device is an open serial device as a transaction uses it: a *tty, or
// a test's fake.
type device interface {
	// Read reads at least one byte, waiting until the read deadline;
	// past it, it fails with os.ErrDeadlineExceeded.
	Read(b []byte) (int, error)
	// ReadWaiting reads what the input holds without waiting: (0, nil)
	// when it holds nothing.
	ReadWaiting(b []byte) (int, error)
	// SetReadDeadline sets when a waiting Read ends; zero: never. A
	// deadline in the past ends the one waiting now.
	SetReadDeadline(t time.Time) error
	// Write writes all of b.
	Write(b []byte) (int, error)
	// DropWaiting discards the input, if any waits.
	DropWaiting() error
	// FlushInput discards the input.
	FlushInput() error
	// Drain waits until what was written has left the UART.
	Drain() error
	// Close closes the device.
	Close() error
}
