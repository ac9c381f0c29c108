package config

import (
	"errors"
	"strconv"
)

// Errors. An [*Error] wraps one of them.
var (
	// ErrSyntax: the file is not valid YAML.
	ErrSyntax = errors.New("invalid YAML")
	// ErrUnknownKey: a key that the configuration does not have, or that
	// belongs to another sensor type.
	ErrUnknownKey = errors.New("unknown key")
	// ErrInvalid: a value of the wrong kind, out of range, or missing.
	ErrInvalid = errors.New("invalid value")
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
