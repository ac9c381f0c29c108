package onewire

import (
	"errors"
	"testing"
)

// FuzzParseSlave: whatever a w1_slave file holds, parseSlave returns a
// temperature within what a 1-Wire probe can report, or an error of its
// kinds; never the power-on value, and never a reading of a scratchpad
// whose CRC fails.
func FuzzParseSlave(f *testing.F) {
	f.Add([]byte("72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n"))
	f.Add([]byte("50 05 4b 46 7f ff 0c 10 1c : crc=1c YES\n50 05 4b 46 7f ff 0c 10 1c t=85000\n"))
	f.Add([]byte("00 00 00 00 00 00 00 00 00 : crc=00 YES\n00 00 00 00 00 00 00 00 00 t=0\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := parseSlave(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrCRC) && !errors.Is(err, ErrPowerOn) && !errors.Is(err, ErrNoAnswer) {
				t.Fatalf("parseSlave(%q): error %v of no kind", b, err)
			}
			return
		}
		if v == powerOn || v < -1<<31 || v > 1<<31-1 {
			t.Fatalf("parseSlave(%q) = %d", b, v)
		}
		pad, _, _ := scratchpadOf(b)
		if crc8(pad[:8]) != pad[8] || pad == [scratchpad]byte{} {
			t.Fatalf("parseSlave(%q) = %d from a scratchpad that fails", b, v)
		}
	})
}
