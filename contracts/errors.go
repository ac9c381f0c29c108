package contracts

import (
	"errors"
	"strings"
)

// Sentinel errors. Every error returned by [Decode], [Validate] and [Encode]
// is an [*Error] that unwraps to exactly one of these, so callers can pick an
// answer with errors.Is (an RPC dispatcher maps them to its error codes).
var (
	// ErrMalformed: the input is not one well-formed JSON object (syntax
	// error, invalid UTF-8, duplicate member name, trailing data).
	ErrMalformed = errors.New("malformed JSON")
	// ErrUnsupportedVersion: __version is present and is not "v1".
	ErrUnsupportedVersion = errors.New("unsupported version")
	// ErrUnknownEventType: eventType names no type of the catalogue.
	ErrUnknownEventType = errors.New("unknown event type")
	// ErrRequired: a required field is missing, null or empty.
	ErrRequired = errors.New("required")
	// ErrWrongType: a field holds a JSON value of the wrong kind (a number
	// where a string belongs, a string where the payload object belongs).
	ErrWrongType = errors.New("wrong type")
	// ErrInvalidValue: a field has the right JSON kind but a value outside
	// its contract: not a UUID, not an RFC 3339 date-time, not one of an
	// enum's values, a field that must be absent in this state.
	ErrInvalidValue = errors.New("invalid value")
	// ErrUnknownMethod: a device.command.rpc names a method this contract
	// version does not define. It is an [ErrInvalidValue] too.
	ErrUnknownMethod = errors.New("unknown method")
)

// Error says what is wrong with a message and where. It is the only error
// type this package returns.
type Error struct {
	// Path is the field, in dotted form with array indexes
	// ("payload.readings[2].value"); empty when the message as a whole is
	// wrong (not JSON, not an object).
	Path string
	// Reason says what is wrong, for people ("required",
	// `"sideways" is not one of online, offline`).
	Reason string
	// Header is the envelope as far as it could be read, so that a
	// command that fails validation can still be answered and a dead
	// letter can still be traced. It is nil when the input was not a JSON
	// object. Header.CorrelationID is set only when it is a valid UUID.
	Header *Envelope
	// Message is the typed message as far as it was decoded: set when the
	// eventType was known, nil otherwise. Its fields are not valid.
	Message Message

	kind error // one of the sentinels
}

// Error returns "contracts: PATH: REASON".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("contracts: ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	return b.String()
}

// Unwrap returns the sentinel that classifies e; [ErrUnknownMethod] also
// matches [ErrInvalidValue].
func (e *Error) Unwrap() []error {
	if e.kind == ErrUnknownMethod {
		return []error{ErrUnknownMethod, ErrInvalidValue}
	}
	return []error{e.kind}
}

func newError(kind error, path, reason string) *Error {
	return &Error{Path: path, Reason: reason, kind: kind}
}

func errRequired(path string) *Error { return newError(ErrRequired, path, "required") }
