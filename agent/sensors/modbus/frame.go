package modbus

import (
	"encoding/binary"
	"fmt"
)

// MaxCount is the most registers one request reads (the spec's limit for
// functions 3 and 4: a response's 250 data bytes).
const MaxCount = 125

// exceptionLen is the length of an exception response: slave, function
// | 0x80, code, CRC.
const exceptionLen = 5

// request is a read of count registers, from address on, of function's
// table of slave.
type request struct {
	slave    uint8
	function Function
	address  uint16
	count    uint16 // 1..MaxCount
}

// String names the request in errors: "slave 17, read input registers
// (4) 100-103".
func (q request) String() string {
	return fmt.Sprintf("slave %d, %s %d-%d", q.slave, q.function, q.address, int(q.address)+int(q.count)-1)
}

// frame returns the request's RTU frame: slave, function, address,
// count, CRC.
func (q request) frame() []byte {
	b := []byte{q.slave, byte(q.function), 0, 0, 0, 0}
	binary.BigEndian.PutUint16(b[2:], q.address)
	binary.BigEndian.PutUint16(b[4:], q.count)
	return appendCRC(b)
}

// responseLen is the length of a normal response to q: slave, function,
// byte count, two bytes per register, CRC.
func (q request) responseLen() int { return 5 + 2*int(q.count) }

// expectedLen is how long the response that starts with b is: an
// exception's length once b's function byte says it is one, else a
// normal response's.
func (q request) expectedLen(b []byte) int {
	if len(b) >= 2 && b[1] == byte(q.function)|0x80 {
		return exceptionLen
	}
	return q.responseLen()
}

// decodeResponse returns the register values of frame, a whole response
// to q, or why it is not one: ErrFrame, ErrCRC or an *ExceptionError.
// A frame is accepted only when its CRC is right and its slave, function
// and byte count are q's.
func decodeResponse(q request, frame []byte) ([]uint16, error) {
	want := q.expectedLen(frame)
	switch {
	case len(frame) < want:
		return nil, fmt.Errorf("truncated: %d of %d bytes: %w", len(frame), want, ErrFrame)
	case len(frame) > want:
		return nil, fmt.Errorf("%d bytes; want %d: %w", len(frame), want, ErrFrame)
	case !crcOK(frame):
		return nil, ErrCRC
	case frame[0] != q.slave:
		return nil, fmt.Errorf("from slave %d: %w", frame[0], ErrFrame)
	case want == exceptionLen:
		return nil, &ExceptionError{Function: q.function, Code: ExceptionCode(frame[2])}
	case frame[1] != byte(q.function):
		return nil, fmt.Errorf("function %d: %w", frame[1], ErrFrame)
	case int(frame[2]) != 2*int(q.count):
		return nil, fmt.Errorf("byte count %d; want %d: %w", frame[2], 2*q.count, ErrFrame)
	}
	words := make([]uint16, q.count)
	for i := range words {
		words[i] = binary.BigEndian.Uint16(frame[3+2*i:])
	}
	return words, nil
}
