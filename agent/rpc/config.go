package rpc

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/internal/clock"
)

// Config configures a Dispatcher. Zero fields take their defaults.
type Config struct {
	// DeviceID is this device: commands for another are refused
	// (WRONG_DEVICE). Required.
	DeviceID string
	// Concurrency is how many commands may run at once; a command beyond
	// it is answered BUSY. Default 8.
	Concurrency int
	// Timeout is the longest a method may run when the command sets no
	// earlier deadline (expiresAt, MQTT Message Expiry). Default 10 s.
	Timeout time.Duration
	// MaxCommandBytes is the largest command accepted; a larger one is a
	// dead letter (too_large), unread. Default 64 KiB.
	MaxCommandBytes int
	// Logger receives a line per command, limited per kind: a problem
	// (a dead letter's reason, an error code) writes a line a minute at
	// most, counting those it suppressed, and answers given ten a minute
	// per method; every command still gets its answer or dead letter.
	// Default: discard.
	Logger *slog.Logger
	// Clock is the time commands are received, answered and timed out
	// by. Default clock.System.
	Clock clock.Clock
	// Observe, when set, is told of every answer the dispatcher makes:
	// the method, the code ([CodeOK] for a success) and the time from the
	// command's arrival to its answer (the answer's durationMs). The
	// method is one this agent implements, [MethodNone] when the command
	// named none, or [MethodUnknown]: a sender cannot make up labels. A
	// command answered again from its memo is not told again: it did not
	// run again. It is called from the dispatcher's goroutines, once per
	// command: it must be safe for concurrent use and must not block.
	Observe func(method, code string, took time.Duration)
}

// What Config.Observe is told besides the methods and the contract's
// error codes.
const (
	// CodeOK is the code of a success.
	CodeOK = "OK"
	// MethodNone is the method of a command that named none.
	MethodNone = noMethod
	// MethodUnknown is the method of a command naming one this agent
	// does not implement.
	MethodUnknown = "(unknown)"
)

// Defaults.
const (
	DefaultConcurrency     = 8
	DefaultTimeout         = 10 * time.Second
	DefaultMaxCommandBytes = 64 << 10
)

// ErrInvalidConfig is returned for a Config out of range.
var ErrInvalidConfig = errors.New("invalid rpc configuration")

func (c Config) withDefaults() Config {
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxCommandBytes == 0 {
		c.MaxCommandBytes = DefaultMaxCommandBytes
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.Clock = clock.Or(c.Clock)
	return c
}

// Validate reports the first field of c (after defaults) out of range.
func (c Config) Validate() error {
	c = c.withDefaults()
	if _, err := contracts.DeviceTopics(c.DeviceID); err != nil {
		return fmt.Errorf("%w: DeviceID: %v", ErrInvalidConfig, err)
	}
	switch {
	case c.Concurrency < 1 || c.Concurrency > 1024:
		return fmt.Errorf("%w: Concurrency %d is outside 1..1024", ErrInvalidConfig, c.Concurrency)
	case c.Timeout < 0:
		return fmt.Errorf("%w: Timeout %v is negative", ErrInvalidConfig, c.Timeout)
	case c.MaxCommandBytes < 1<<10 || c.MaxCommandBytes > 1<<20:
		return fmt.Errorf("%w: MaxCommandBytes %d is outside 1 KiB..1 MiB", ErrInvalidConfig, c.MaxCommandBytes)
	}
	return nil
}
