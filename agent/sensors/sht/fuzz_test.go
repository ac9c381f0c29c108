package sht

import (
	"errors"
	"testing"
)

// FuzzReadings: whatever six bytes a chip answers, they are temperature
// within −45..130 °C and humidity within 0..100 %, or ErrCRC.
func FuzzReadings(f *testing.F) {
	f.Add(true, []byte{0x66, 0x66, 0x93, 0x80, 0x00, 0xa2})
	f.Add(false, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, sht4 bool, b []byte) {
		if len(b) != 6 {
			return
		}
		chip := SHT3x
		if sht4 {
			chip = SHT4x
		}
		rs, err := chip.readings([6]byte(b))
		if err != nil {
			if !errors.Is(err, ErrCRC) {
				t.Fatalf("readings(% x): %v", b, err)
			}
			return
		}
		if len(rs) != 2 || rs[0].Value < -45 || rs[0].Value > 130 || rs[1].Value < 0 || rs[1].Value > 100 {
			t.Fatalf("readings(% x) = %+v", b, rs)
		}
	})
}
