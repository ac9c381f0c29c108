package health

import "errors"

// Errors.
var (
	// ErrInvalidConfig: Config.Validate refused a value.
	ErrInvalidConfig = errors.New("invalid health configuration")
	// ErrNotLoopback: the address to listen on is not a loopback IP.
	ErrNotLoopback = errors.New("not a loopback address")
)
