package legacy

import (
	"errors"

	"github.com/iot-hub/agent/contracts"
)

// Sentinel errors of this package. Every error the package returns
// matches, with errors.Is, one of the sentinels of contracts
// ([contracts.ErrMalformed], [contracts.ErrRequired],
// [contracts.ErrWrongType], [contracts.ErrInvalidValue],
// [contracts.ErrUnknownMethod]), so that one piece of code can handle v1
// and legacy failures; the sentinels below refine some of them.
var (
	// ErrNotLegacy: the input is a JSON object but not a legacy status
	// event: its type member is missing or is not "DeviceStatusChanged".
	// It is a [contracts.ErrInvalidValue] too.
	ErrNotLegacy = errors.New("not a legacy message")
	// ErrExpired: [EncodeCommand] was given a command whose expiresAt is
	// past; the legacy format cannot say that it must not run. It is a
	// [contracts.ErrInvalidValue] too.
	ErrExpired = errors.New("command expired")
	// ErrNoReadings: [DecodeTelemetry] found no member whose value is a
	// number. It is a [contracts.ErrRequired] too.
	ErrNoReadings = errors.New("no readings")
	// ErrDuplicateMetric: [EncodeTelemetry] was given two readings of one
	// metric; the legacy object has one member per metric. It is a
	// [contracts.ErrInvalidValue] too.
	ErrDuplicateMetric = errors.New("duplicate metric")
)

// parents maps every sentinel that refines another to the one it refines.
var parents = map[error]error{
	ErrNotLegacy:               contracts.ErrInvalidValue,
	ErrExpired:                 contracts.ErrInvalidValue,
	ErrNoReadings:              contracts.ErrRequired,
	ErrDuplicateMetric:         contracts.ErrInvalidValue,
	contracts.ErrUnknownMethod: contracts.ErrInvalidValue,
}

// fieldError says what is wrong with one field of a message: its path in
// the legacy (or, when encoding, the v1) message, the reason, and the
// sentinel that classifies it.
type fieldError struct {
	path   string
	reason string
	kind   error
}

func newError(kind error, path, reason string) *fieldError {
	return &fieldError{path: path, reason: reason, kind: kind}
}

func errRequired(path string) *fieldError {
	return newError(contracts.ErrRequired, path, "required")
}

// Error returns "PATH: REASON", or the reason alone when the message as a
// whole is wrong.
func (e *fieldError) Error() string {
	if e.path == "" {
		return e.reason
	}
	return e.path + ": " + e.reason
}

// Unwrap returns the sentinel that classifies e and the one it refines.
func (e *fieldError) Unwrap() []error {
	if p, ok := parents[e.kind]; ok {
		return []error{e.kind, p}
	}
	return []error{e.kind}
}
