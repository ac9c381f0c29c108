package modbus

import (
	"bytes"
	"errors"
	"slices"
	"testing"
)

func TestRequestFrame(t *testing.T) {
	for _, tc := range []struct {
		q    request
		want []byte
	}{
		{request{17, HoldingRegisters, 0x006B, 3}, []byte{0x11, 0x03, 0x00, 0x6B, 0x00, 0x03, 0x76, 0x87}},
		{request{1, InputRegisters, 0x0008, 1}, []byte{0x01, 0x04, 0x00, 0x08, 0x00, 0x01, 0xB0, 0x08}},
		{request{247, HoldingRegisters, 0xFF83, 125}, append([]byte{0xF7, 0x03, 0xFF, 0x83, 0x00, 0x7D}, le(crc16([]byte{0xF7, 0x03, 0xFF, 0x83, 0x00, 0x7D}))...)},
	} {
		if got := tc.q.frame(); !bytes.Equal(got, tc.want) {
			t.Errorf("%v frame = % X; want % X", tc.q, got, tc.want)
		}
	}
}

// le is v's two bytes, low first.
func le(v uint16) []byte { return []byte{byte(v), byte(v >> 8)} }

// withCRC returns b with its CRC appended.
func withCRC(b ...byte) []byte { return appendCRC(b) }

func TestDecodeResponse(t *testing.T) {
	q := request{slave: 17, function: HoldingRegisters, address: 0x6B, count: 3}
	good := withCRC(0x11, 0x03, 0x06, 0x02, 0x2B, 0x00, 0x00, 0x00, 0x64) // the spec's example
	badCRC := slices.Clone(good)
	badCRC[len(badCRC)-1] ^= 0x01
	for _, tc := range []struct {
		name  string
		frame []byte
		want  []uint16
		err   error
	}{
		{"good", good, []uint16{0x022B, 0x0000, 0x0064}, nil},
		{"exception", withCRC(0x11, 0x83, 0x02), nil, &ExceptionError{Function: HoldingRegisters, Code: IllegalDataAddress}},
		{"empty", nil, nil, ErrFrame},
		{"truncated", good[:7], nil, ErrFrame},
		{"truncated exception", withCRC(0x11, 0x83, 0x02)[:4], nil, ErrFrame},
		{"too long", append(slices.Clone(good), 0), nil, ErrFrame},
		{"bad CRC", badCRC, nil, ErrCRC},
		{"another slave", withCRC(0x12, 0x03, 0x06, 0x02, 0x2B, 0x00, 0x00, 0x00, 0x64), nil, ErrFrame},
		{"another slave's exception", withCRC(0x12, 0x83, 0x02), nil, ErrFrame},
		{"another function", withCRC(0x11, 0x04, 0x06, 0x02, 0x2B, 0x00, 0x00, 0x00, 0x64), nil, ErrFrame},
		{"another function's exception", withCRC(0x11, 0x84, 0x02, 0, 0, 0, 0, 0, 0), nil, ErrFrame},
		{"byte count", withCRC(0x11, 0x03, 0x05, 0x02, 0x2B, 0x00, 0x00, 0x00, 0x64), nil, ErrFrame},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeResponse(q, tc.frame)
			var exc *ExceptionError
			switch {
			case tc.err == nil && (err != nil || !slices.Equal(got, tc.want)):
				t.Errorf("decodeResponse(% X) = %v, %v; want %v", tc.frame, got, err, tc.want)
			case errors.As(tc.err, &exc):
				var gotExc *ExceptionError
				if !errors.As(err, &gotExc) || *gotExc != *exc || got != nil {
					t.Errorf("decodeResponse(% X) = %v, %v; want %v", tc.frame, got, err, tc.err)
				}
			case tc.err != nil && (!errors.Is(err, tc.err) || got != nil):
				t.Errorf("decodeResponse(% X) = %v, %v; want %v", tc.frame, got, err, tc.err)
			}
		})
	}
}

func TestExceptionError(t *testing.T) {
	for _, tc := range []struct {
		code ExceptionCode
		want string
	}{
		{IllegalFunction, "exception 01 (illegal function)"},
		{IllegalDataAddress, "exception 02 (illegal data address)"},
		{ServerDeviceBusy, "exception 06 (server device busy)"},
		{GatewayTargetDeviceFailedToRespond, "exception 0B (gateway target device failed to respond)"},
		{0x42, "exception 42 (unknown exception code)"},
	} {
		if got := (&ExceptionError{Function: InputRegisters, Code: tc.code}).Error(); got != tc.want {
			t.Errorf("ExceptionError{Code: %d}.Error() = %q; want %q", tc.code, got, tc.want)
		}
	}
}

func TestExpectedLen(t *testing.T) {
	q := request{slave: 1, function: InputRegisters, address: 0, count: 10}
	for _, tc := range []struct {
		start []byte
		want  int
	}{
		{nil, 25},
		{[]byte{1}, 25},
		{[]byte{1, 0x04}, 25},
		{[]byte{1, 0x84}, 5},
		{[]byte{1, 0x83}, 25}, // another function's exception: garbage, read as a normal response
	} {
		if got := q.expectedLen(tc.start); got != tc.want {
			t.Errorf("expectedLen(% X) = %d; want %d", tc.start, got, tc.want)
		}
	}
}
