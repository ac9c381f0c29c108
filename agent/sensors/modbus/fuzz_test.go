package modbus

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/iot-hub/agent/agent/sensors/modbus/modbustest"
)

// FuzzDecodeResponse checks that decodeResponse never panics, accepts a
// frame exactly when it is a CRC-valid response consistent with the
// request, and returns the frame's values then. With fixCRC, the frame's
// last two bytes are made its CRC first, so that the fuzzer explores
// frames past the CRC check. The seed corpus is in
// testdata/fuzz/FuzzDecodeResponse.
func FuzzDecodeResponse(f *testing.F) {
	f.Fuzz(func(t *testing.T, slave, fn byte, address, count uint16, frame []byte, fixCRC bool) {
		q := request{slave: slave, function: Function(3 + fn%2), address: address, count: 1 + count%MaxCount}
		if fixCRC && len(frame) >= 2 {
			crc := modbustest.CRC(frame[:len(frame)-2])
			binary.LittleEndian.PutUint16(frame[len(frame)-2:], crc)
		}
		n := len(frame)
		crcValid := n >= 2 && modbustest.CRC(frame[:n-2]) == binary.LittleEndian.Uint16(frame[n-2:])
		isResponse := crcValid && n == q.responseLen() && frame[0] == q.slave && frame[1] == byte(q.function) && int(frame[2]) == 2*int(q.count)
		isException := crcValid && n == exceptionLen && frame[0] == q.slave && frame[1] == byte(q.function)|0x80

		words, err := decodeResponse(q, frame)
		var exc *ExceptionError
		switch {
		case isResponse:
			if err != nil || len(words) != int(q.count) {
				t.Fatalf("decodeResponse(%v, % X) = %v, %v; want %d values", q, frame, words, err, q.count)
			}
			for i, w := range words {
				if want := binary.BigEndian.Uint16(frame[3+2*i:]); w != want {
					t.Fatalf("decodeResponse(%v, % X): value %d = %04X; want %04X", q, frame, i, w, want)
				}
			}
		case isException:
			if !errors.As(err, &exc) || exc.Code != ExceptionCode(frame[2]) || exc.Function != q.function || words != nil {
				t.Fatalf("decodeResponse(%v, % X) = %v, %v; want exception %02X", q, frame, words, err, frame[2])
			}
		case err == nil || words != nil:
			t.Fatalf("decodeResponse(%v, % X) = %v, %v; want an error", q, frame, words, err)
		case !errors.Is(err, ErrFrame) && !errors.Is(err, ErrCRC):
			t.Fatalf("decodeResponse(%v, % X) = %v; want ErrFrame or ErrCRC", q, frame, err)
		}
	})
}
