package modbus

import "errors"

// retryable reports whether a failed attempt is worth another at once.
// Silence and damaged frames are: noise on an RS-485 line, a slave that
// missed the request or a collision pass. An exception is the slave's
// considered answer and would come again. The port's errors (lost,
// closed) and the context's end are not: the port needs reopening with
// its own backoff, and the caller has given up; the next scheduled read
// tries again.
func retryable(err error) bool {
	return errors.Is(err, ErrTimeout) || errors.Is(err, ErrCRC) || errors.Is(err, ErrFrame)
}
