package modbustest

import "fmt"

// Request is one request a [Line] read, well formed.
type Request struct {
	// Slave is the address it was sent to.
	Slave uint8
	// Function is 3 or 4.
	Function uint8
	// Address is the first register's.
	Address uint16
	// Count is how many registers it reads, 1..125.
	Count uint16
	// Answer is what it got.
	Answer Answer
}

// String returns "slave 17 fn 3 100+4: registers".
func (r Request) String() string {
	return fmt.Sprintf("slave %d fn %d %d+%d: %s", r.Slave, r.Function, r.Address, r.Count, r.Answer)
}

// Answer is how a request was answered.
type Answer uint8

// Answers.
const (
	// AnswerNone: no slave of the line has the request's address.
	AnswerNone Answer = iota
	// AnswerSilent: the slave was silent (SetSilent, or a Silent fault).
	AnswerSilent
	// AnswerRegisters: the registers' values.
	AnswerRegisters
	// AnswerException: an exception response.
	AnswerException
	// AnswerDamaged: noise, a truncated frame or a bad CRC (a Fault).
	AnswerDamaged
)

// String returns the answer's name: "none", "silent", "registers",
// "exception", "damaged".
func (a Answer) String() string {
	switch a {
	case AnswerNone:
		return "none"
	case AnswerSilent:
		return "silent"
	case AnswerRegisters:
		return "registers"
	case AnswerException:
		return "exception"
	case AnswerDamaged:
		return "damaged"
	}
	return fmt.Sprintf("Answer(%d)", uint8(a))
}
