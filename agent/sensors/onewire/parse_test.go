package onewire

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// slave writes a w1_slave file as w1_therm does for scratchpad pad, the
// kernel's CRC verdict and temperature t in millidegrees.
func slave(pad string, verdict bool, t int) string {
	word := map[bool]string{true: "YES", false: "NO"}[verdict]
	return fmt.Sprintf("%s : crc=%s %s\n%s t=%d\n", pad, pad[len(pad)-2:], word, pad, t)
}

// padWith returns the scratchpad of raw, a DS18B20's temperature register
// (1/16 °C), in a 12-bit configuration, its CRC computed.
func padWith(raw int16) string {
	b := []byte{byte(raw), byte(uint16(raw) >> 8), 0x4b, 0x46, 0x7f, 0xff, 0x0c, 0x10}
	b = append(b, crc8(b))
	return strings.TrimSpace(fmt.Sprintf("% x", b))
}

// The scratchpads of the w1_therm documentation and of the DS18B20
// datasheet's power-on state carry their CRCs: crc8 must agree with them.
func TestCRC8OfKnownScratchpads(t *testing.T) {
	for _, tc := range []struct {
		pad  []byte
		want byte
	}{
		{[]byte{0x72, 0x01, 0x4b, 0x46, 0x7f, 0xff, 0x0e, 0x10}, 0x57}, // 23.125 °C, Documentation/w1/slaves/w1_therm.rst
		{[]byte{0x50, 0x05, 0x4b, 0x46, 0x7f, 0xff, 0x0c, 0x10}, 0x1c}, // 85 °C, power-on (datasheet, Table 1)
		{[]byte{0, 0, 0, 0, 0, 0, 0, 0}, 0},
	} {
		if got := crc8(tc.pad); got != tc.want {
			t.Errorf("crc8(% x) = %02x; want %02x", tc.pad, got, tc.want)
		}
	}
}

func TestParseSlave(t *testing.T) {
	for _, tc := range []struct {
		name string
		file string
		want int64
		err  error
	}{
		{"kernel's example", "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n", 23125, nil},
		{"below zero", slave(padWith(-162), true, -10125), -10125, nil},
		{"no final newline", strings.TrimSuffix(slave(padWith(400), true, 25000), "\n"), 25000, nil},
		{"power-on value", "50 05 4b 46 7f ff 0c 10 1c : crc=1c YES\n50 05 4b 46 7f ff 0c 10 1c t=85000\n", 0, ErrPowerOn},
		{"kernel says NO", "72 01 4b 46 7f ff 0e 10 58 : crc=57 NO\n72 01 4b 46 7f ff 0e 10 58 t=23125\n", 0, ErrCRC},
		{"kernel says NO, bytes fine", slave(padWith(400), false, 25000), 0, ErrCRC},
		{"kernel says YES, bytes damaged", "72 01 4b 46 7f ff 0e 11 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 11 57 t=23125\n", 0, ErrCRC},
		{"no answer: all zeros", "00 00 00 00 00 00 00 00 00 : crc=00 YES\n00 00 00 00 00 00 00 00 00 t=0\n", 0, ErrNoAnswer},
		{"no pull-up: all ones", "ff ff ff ff ff ff ff ff ff : crc=c9 NO\nff ff ff ff ff ff ff ff ff t=-62\n", 0, ErrCRC},
		{"empty", "", 0, ErrMalformed},
		{"one line", "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n", 0, ErrMalformed},
		{"no t=", "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57\n", 0, ErrMalformed},
		{"t= not a number", "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=x\n", 0, ErrMalformed},
		{"not hex", "zz 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n", 0, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseSlave([]byte(tc.file))
			if !errors.Is(err, tc.err) || err == nil && got != tc.want {
				t.Errorf("parseSlave(%q) = %d, %v; want %d, %v", tc.file, got, err, tc.want, tc.err)
			}
		})
	}
}

func TestParseTemperature(t *testing.T) {
	for _, tc := range []struct {
		file string
		want int64
		err  error
	}{
		{"23125\n", 23125, nil},
		{"-10125\n", -10125, nil},
		{"85000\n", 0, ErrPowerOn},
		{"\n", 0, ErrMalformed},
		{"23.125\n", 0, ErrMalformed},
	} {
		got, err := parseTemperature([]byte(tc.file))
		if !errors.Is(err, tc.err) || err == nil && got != tc.want {
			t.Errorf("parseTemperature(%q) = %d, %v; want %d, %v", tc.file, got, err, tc.want, tc.err)
		}
	}
}
