package onewire

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
)

// Errors of a probe's read.
var (
	// ErrCRC: the scratchpad read off the wire is damaged.
	ErrCRC = errors.New("CRC wrong")
	// ErrPowerOn: the probe reports 85 °C, its power-on value: no
	// conversion ran (it lost power, or parasite power was too weak).
	ErrPowerOn = errors.New("85 °C, the power-on value: no conversion ran")
	// ErrNoAnswer: the scratchpad is all zeros, whose CRC passes: the
	// probe does not answer.
	ErrNoAnswer = errors.New("scratchpad all zeros: the probe does not answer")
	// ErrMalformed: the file is not what w1_therm writes.
	ErrMalformed = errors.New("malformed")
)

// powerOn is the DS18B20's power-on temperature, in millidegrees.
const powerOn = 85000

// scratchpad is the DS18B20's 9-byte scratchpad: 8 bytes and their CRC.
const scratchpad = 9

// parseSlave reads a w1_slave file, in millidegrees Celsius. w1_therm
// writes the scratchpad twice, in hex, the first line ending in the CRC
// it computed and its verdict, the second in the temperature:
//
//	72 01 4b 46 7f ff 0e 10 57 : crc=57 YES
//	72 01 4b 46 7f ff 0e 10 57 t=23125
func parseSlave(b []byte) (int64, error) {
	first, rest, ok := bytes.Cut(b, []byte("\n"))
	second, _, _ := bytes.Cut(rest, []byte("\n"))
	if !ok {
		return 0, fmt.Errorf("%w: want two lines, got %q", ErrMalformed, clip(b))
	}
	pad, tail, err := scratchpadOf(first)
	if err != nil {
		return 0, err
	}
	verdict, ok := bytes.CutPrefix(tail, []byte(" : crc="))
	if !ok || len(verdict) < 3 {
		return 0, fmt.Errorf("%w: first line %q has no \" : crc=\"", ErrMalformed, clip(first))
	}
	if pad == [scratchpad]byte{} {
		return 0, ErrNoAnswer
	}
	if crc := crc8(pad[:8]); crc != pad[8] {
		return 0, fmt.Errorf("%w: the scratchpad's CRC is %02x, its bytes make %02x", ErrCRC, pad[8], crc)
	}
	if !bytes.HasSuffix(bytes.TrimSpace(verdict), []byte(" YES")) {
		return 0, fmt.Errorf("%w: the kernel says %q", ErrCRC, clip(bytes.TrimSpace(verdict)))
	}
	_, tail, err = scratchpadOf(second)
	if err != nil {
		return 0, err
	}
	t, ok := bytes.CutPrefix(tail, []byte(" t="))
	if !ok {
		return 0, fmt.Errorf("%w: second line %q has no \" t=\"", ErrMalformed, clip(second))
	}
	return milli(t)
}

// scratchpadOf reads the nine hex bytes a w1_slave line starts with, and
// returns them with the rest of the line.
func scratchpadOf(line []byte) (pad [scratchpad]byte, rest []byte, err error) {
	const n = scratchpad*3 - 1 // "72 01 ... 57"
	if len(line) < n {
		return pad, nil, fmt.Errorf("%w: line %q is shorter than a scratchpad", ErrMalformed, clip(line))
	}
	for i := range scratchpad {
		if i > 0 && line[3*i-1] != ' ' {
			return pad, nil, fmt.Errorf("%w: line %q: want nine hex bytes", ErrMalformed, clip(line))
		}
		if _, err := hex.Decode(pad[i:i+1], line[3*i:3*i+2]); err != nil {
			return pad, nil, fmt.Errorf("%w: line %q: want nine hex bytes", ErrMalformed, clip(line))
		}
	}
	return pad, line[n:], nil
}

// parseTemperature reads a temperature file: millidegrees Celsius, as
// w1_therm writes it on kernels with that file.
func parseTemperature(b []byte) (int64, error) {
	return milli(bytes.TrimSpace(b))
}

// milli parses millidegrees, failing on the power-on value.
func milli(b []byte) (int64, error) {
	v, err := strconv.ParseInt(string(b), 10, 32)
	switch {
	case err != nil:
		return 0, fmt.Errorf("%w: temperature %q is not a number", ErrMalformed, clip(b))
	case v == powerOn:
		return 0, ErrPowerOn
	}
	return v, nil
}

// crc8 is Maxim's 1-Wire CRC-8 (x⁸ + x⁵ + x⁴ + 1, least significant bit
// first), which the scratchpad's ninth byte is of the first eight.
func crc8(b []byte) byte {
	var crc byte
	for _, v := range b {
		for range 8 {
			mix := (crc ^ v) & 1
			crc >>= 1
			if mix != 0 {
				crc ^= 0x8c
			}
			v >>= 1
		}
	}
	return crc
}

// clip bounds what an error quotes of a file.
func clip(b []byte) []byte { return b[:min(len(b), 64)] }
