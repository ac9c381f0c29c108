package rpc

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/iot-hub/agent/contracts"
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
	// Logger receives a line per command. Default: discard.
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

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
	if c.Now == nil {
		c.Now = time.Now
	}
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
