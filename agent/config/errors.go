package config

import (
	"errors"
	"strconv"

	"github.com/iot-hub/agent/internal/confkeys"
)

// Errors. An [*Error] wraps one of them. They are confkeys's, which
// the components' Validate return too.
var (
	// ErrSyntax: the file is not valid YAML.
	ErrSyntax = confkeys.ErrSyntax
	// ErrUnknownKey: a key that the configuration does not have, or that
	// belongs to another sensor type.
	ErrUnknownKey = confkeys.ErrUnknownKey
	// ErrInvalid: a value of the wrong kind, out of range, or missing.
	ErrInvalid = confkeys.ErrInvalid
)

// Error is what Load and Parse return: what is wrong, and where.
type Error struct {
	// File is the file's name; empty for Parse.
	File string
	// Line is the line of the key (1-based), or 0 when unknown (a default
	// that is wrong, a missing key).
	Line int
	// Path is the key path, "uplink.mqtt.broker" or "sensors[1].name";
	// empty for the whole file.
	Path string
	// Msg says what is wrong.
	Msg string
	// Err is ErrSyntax, ErrUnknownKey or ErrInvalid.
	Err error
}

// Error returns "config: FILE:LINE: PATH: MSG", leaving out what is
// unknown: "config: uplink.mqtt.brokr: unknown key (did you mean broker?)"
// for Parse with no line.
func (e *Error) Error() string {
	s := "config: "
	switch {
	case e.File != "" && e.Line > 0:
		s += e.File + ":" + strconv.Itoa(e.Line) + ": "
	case e.File != "":
		s += e.File + ": "
	case e.Line > 0:
		s += "line " + strconv.Itoa(e.Line) + ": "
	}
	if e.Path != "" {
		s += e.Path + ": "
	}
	return s + e.Msg
}

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }

// fieldError returns the *Error of err, the error of a Validate of the
// section or the sensor at prefix, wrapping ErrInvalid: at the key path
// of its *confkeys.FieldError under prefix, on that key's line or, for a
// key left out, on the line of prefix; another error is at prefix.
func (c *Config) fieldError(prefix string, err error) *Error {
	e := c.ruleError(prefix, err)
	if e.Line == 0 {
		e.Line = c.doc.Line(prefix)
	}
	return e
}

// ruleError is fieldError, but for a key left out, whose error is on no
// line: that of the rules of the certificates and uplink.kafka sections,
// which point at no line when they name a key left out (a username
// required with a SASL mechanism), as the rules of the whole file do.
func (c *Config) ruleError(prefix string, err error) *Error {
	e, ok := errors.AsType[*confkeys.FieldError](err)
	if !ok {
		e = &confkeys.FieldError{Msg: err.Error()}
	}
	e = e.Prefix(prefix)
	return &Error{Line: c.doc.Line(e.Path), Path: e.Path, Msg: e.Msg, Err: ErrInvalid}
}
