package rpc

import "fmt"

// Error is a method's refusal with a contract error code, such as
// contracts.CodeInvalidCommand for parameters that make no sense; the
// answer carries the code and the message. A method's other errors are
// answered INTERNAL.
type Error struct {
	Code    string
	Message string
}

// Error returns "CODE: MESSAGE".
func (e *Error) Error() string { return e.Code + ": " + e.Message }

// errorf returns an *Error with a formatted message.
func errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}
