package rpc

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/internal/clock"
	"github.com/iot-hub/agent/internal/confkeys"
)

// Config configures a Dispatcher. Zero fields take their defaults.
type Config struct {
	// DeviceID is this device: commands for another are refused
	// (WRONG_DEVICE). Required.
	DeviceID string
	// Settings are how many commands run at once, for how long, and the
	// largest one read: the keys of the configuration file's rpc section.
	Settings
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

// Settings are the keys of the rpc section of the agent's configuration
// file: how commands are answered. Zero values are keys left out, which
// SetDefaults fills in; the limit tags are the configuration's limits.
type Settings struct {
	// Concurrency is how many commands may run at once; a command beyond
	// it is answered BUSY. Default 8; 1 to 1024.
	Concurrency int `yaml:"concurrency" limit:"1..1024"`
	// Timeout is the longest a method may run when the command sets no
	// earlier deadline (expiresAt, MQTT Message Expiry). Default 10s; at
	// least 1ms.
	Timeout time.Duration `yaml:"timeout" limit:"1ms.."`
	// MaxCommandBytes is the largest command read; a larger one is a dead
	// letter (too_large), unread, or never sent to the agent by an MQTT
	// broker (the uplink asks for a Maximum Packet Size from it). Default
	// 64KiB; 1KiB to 1MiB.
	MaxCommandBytes confkeys.Size `yaml:"maxCommandBytes" limit:"1KiB..1MiB"`
	// Disable switches methods off: a command naming one is answered
	// METHOD_NOT_FOUND, saying it is switched off. Default none.
	Disable []contracts.Method `yaml:"disable,omitempty"`
	// RollbackAfter is how long a configuration set by setConfig has,
	// at each start, to connect the uplink before the agent goes back to
	// the one before. Default 5m; at least 1s.
	RollbackAfter time.Duration `yaml:"rollbackAfter" limit:"1s.."`
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
	DefaultRollbackAfter   = 5 * time.Minute
)

// ErrInvalidConfig is returned for a Config out of range.
var ErrInvalidConfig = errors.New("invalid rpc configuration")

// SetDefaults fills in the keys left out of s.
func (s *Settings) SetDefaults() {
	confkeys.SetDefault(&s.Concurrency, DefaultConcurrency)
	confkeys.SetDefault(&s.Timeout, DefaultTimeout)
	confkeys.SetDefault(&s.MaxCommandBytes, DefaultMaxCommandBytes)
	confkeys.SetDefault(&s.RollbackAfter, DefaultRollbackAfter)
}

func (c Config) withDefaults() Config {
	c.Settings.SetDefaults()
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.Clock = clock.Or(c.Clock)
	return c
}

// Validate reports the first key of s (defaults filled in) out of range,
// as a *confkeys.FieldError at the key's path ("concurrency") wrapping
// ErrInvalidConfig. Its message names the field, as Go callers set it.
func (s Settings) Validate() error {
	switch {
	case s.Concurrency < 1 || s.Concurrency > 1024:
		return fieldErr("concurrency", "Concurrency %d is outside 1..1024", s.Concurrency)
	case s.Timeout < 0:
		return fieldErr("timeout", "Timeout %v is negative", s.Timeout)
	case s.MaxCommandBytes < confkeys.KiB || s.MaxCommandBytes > confkeys.MiB:
		return fieldErr("maxCommandBytes", "MaxCommandBytes %d is outside 1 KiB..1 MiB", int64(s.MaxCommandBytes))
	case s.RollbackAfter < time.Second:
		return fieldErr("rollbackAfter", "RollbackAfter %v is under 1s", s.RollbackAfter)
	}
	for i, m := range s.Disable {
		if !slices.Contains(m.Values(), string(m)) {
			return fieldErr(fmt.Sprintf("disable[%d]", i), "%q is not a method; the methods are %s", m, strings.Join(m.Values(), ", "))
		}
	}
	return nil
}

// Validate reports the first field of c (after defaults) out of range: a
// DeviceID that cannot name a device, or the Settings'
// (Settings.Validate's *confkeys.FieldError).
func (c Config) Validate() error {
	c = c.withDefaults()
	if _, err := contracts.DeviceTopics(c.DeviceID); err != nil {
		return fmt.Errorf("%w: DeviceID: %v", ErrInvalidConfig, err)
	}
	return c.Settings.Validate()
}

// fieldErr returns the *confkeys.FieldError of the key at path, wrapping
// ErrInvalidConfig, its message formatted.
func fieldErr(path, format string, args ...any) error {
	return &confkeys.FieldError{Path: path, Msg: fmt.Sprintf(format, args...), Err: ErrInvalidConfig}
}
