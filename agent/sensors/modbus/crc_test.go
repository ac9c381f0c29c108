package modbus

import (
	"math/rand/v2"
	"testing"

	"github.com/iot-hub/agent/agent/sensors/modbus/modbustest"
)

func TestCRC(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint16
	}{
		{"", 0xFFFF},
		{"123456789", 0x4B37}, // the CRC catalogue's check value
		{"\x01\x03\x00\x00\x00\x0A", 0xCDC5},
		{"\x11\x03\x00\x6B\x00\x03", 0x8776}, // the spec's example request
	} {
		if got := crc16([]byte(tc.in)); got != tc.want {
			t.Errorf("crc16(%q) = %04X; want %04X", tc.in, got, tc.want)
		}
	}
}

// TestCRCAgreesWithModbustest checks the bitwise CRC against the table
// one of modbustest, written apart.
func TestCRCAgreesWithModbustest(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		b := make([]byte, r.IntN(300))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		if got, want := crc16(b), modbustest.CRC(b); got != want {
			t.Fatalf("crc16(% X) = %04X; modbustest.CRC = %04X", b, got, want)
		}
		if f := appendCRC(b); !crcOK(f) {
			t.Fatalf("crcOK(appendCRC(% X)) = false", b)
		}
	}
}
