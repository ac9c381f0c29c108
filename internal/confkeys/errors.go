package confkeys

import (
	"errors"
	"fmt"
	"strings"
)

// Errors. A [*FieldError] wraps one of them, or a component's own
// sentinel.
var (
	// ErrSyntax: the data is not valid YAML.
	ErrSyntax = errors.New("invalid YAML")
	// ErrUnknownKey: a key that the struct does not have.
	ErrUnknownKey = errors.New("unknown key")
	// ErrInvalid: a value of the wrong kind, out of its limits, or
	// missing.
	ErrInvalid = errors.New("invalid value")
)

// FieldError is a value that is wrong, at its key path.
type FieldError struct {
	// Path is the key path, relative to where the decoding or the
	// validation started: "registers[2].type", "uplink.mqtt.broker"; empty
	// for the whole value.
	Path string
	// Line is the line of the value in the YAML (1-based) when the
	// decoder found the error; 0 for a Validate's error, whose line the
	// Document's Line gives from Path.
	Line int
	// Msg says what is wrong, and what is allowed.
	Msg string
	// Err is ErrSyntax, ErrUnknownKey, ErrInvalid, or the sentinel of the
	// component that refused the value.
	Err error
}

// Invalid returns an ErrInvalid *FieldError at path, its message
// formatted.
func Invalid(path, format string, args ...any) *FieldError {
	return &FieldError{Path: path, Msg: fmt.Sprintf(format, args...), Err: ErrInvalid}
}

// Error returns "PATH: MSG", or MSG when there is no path.
func (e *FieldError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// Unwrap returns Err.
func (e *FieldError) Unwrap() error { return e.Err }

// Prefix returns a copy of e whose path is under prefix: "registers[2]"
// under "sensors[0]" is "sensors[0].registers[2]", "[1].name" under
// "sensors" is "sensors[1].name".
func (e *FieldError) Prefix(prefix string) *FieldError {
	c := *e
	c.Path = joinPath(prefix, e.Path)
	return &c
}

// joinPath returns the key path of key, a key or an index ("[2]") or a
// path of them, under prefix.
func joinPath(prefix, key string) string {
	switch {
	case prefix == "":
		return key
	case key == "":
		return prefix
	case strings.HasPrefix(key, "["):
		return prefix + key
	}
	return prefix + "." + key
}
