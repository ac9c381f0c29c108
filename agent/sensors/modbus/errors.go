package modbus

import (
	"errors"
	"fmt"
)

// Errors. A failed Read wraps one of them, or an [*ExceptionError], or the
// serial port's error (serialport.ErrPortLost, serialport.ErrClosed) or
// the context's.
var (
	// ErrInvalidConfig: New refused a Config; a [*confkeys.FieldError]
	// naming the field wraps it.
	ErrInvalidConfig = errors.New("invalid modbus config")
	// ErrTimeout: no byte of the response came within the response
	// timeout. The slave is absent, off, or has another address or baud.
	ErrTimeout = errors.New("no response")
	// ErrCRC: a response arrived whole but its CRC is wrong: noise on the
	// line, or two talkers at once.
	ErrCRC = errors.New("response CRC mismatch")
	// ErrFrame: a response that is truncated, too long, from another
	// slave, of another function or with a byte count other than the
	// request's.
	ErrFrame = errors.New("malformed response")
	// ErrNotFinite: a float32 register holds NaN or an infinity, which a
	// reading cannot carry.
	ErrNotFinite = errors.New("value is not finite")
)

// ExceptionError is a slave's exception response: it understood the
// request and refused it. A Read does not retry it.
type ExceptionError struct {
	// Function is the request's function.
	Function Function
	// Code is the exception code the slave sent.
	Code ExceptionCode
}

// Error returns "exception 02 (illegal data address)".
func (e *ExceptionError) Error() string {
	return fmt.Sprintf("exception %02X (%s)", uint8(e.Code), e.Code)
}

// ExceptionCode is the code of an exception response (Modbus application
// protocol v1.1b3, §7).
type ExceptionCode uint8

// Exception codes.
const (
	IllegalFunction                    ExceptionCode = 0x01
	IllegalDataAddress                 ExceptionCode = 0x02
	IllegalDataValue                   ExceptionCode = 0x03
	ServerDeviceFailure                ExceptionCode = 0x04
	Acknowledge                        ExceptionCode = 0x05
	ServerDeviceBusy                   ExceptionCode = 0x06
	MemoryParityError                  ExceptionCode = 0x08
	GatewayPathUnavailable             ExceptionCode = 0x0A
	GatewayTargetDeviceFailedToRespond ExceptionCode = 0x0B
)

var exceptionNames = map[ExceptionCode]string{
	IllegalFunction:                    "illegal function",
	IllegalDataAddress:                 "illegal data address",
	IllegalDataValue:                   "illegal data value",
	ServerDeviceFailure:                "server device failure",
	Acknowledge:                        "acknowledge",
	ServerDeviceBusy:                   "server device busy",
	MemoryParityError:                  "memory parity error",
	GatewayPathUnavailable:             "gateway path unavailable",
	GatewayTargetDeviceFailedToRespond: "gateway target device failed to respond",
}

// String returns the code's name in the specification, "illegal data
// address", or "unknown exception code" for a code it does not define.
func (c ExceptionCode) String() string {
	if s, ok := exceptionNames[c]; ok {
		return s
	}
	return "unknown exception code"
}
