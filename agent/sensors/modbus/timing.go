package modbus

import "time"

// bitsPerChar is the length of one character on the wire: a start bit,
// 8 data bits, and a parity bit or a second stop bit, and a stop bit
// (Modbus over serial line v1.02, §2.5.1).
const bitsPerChar = 11

// fixedGap is the inter-frame gap above 19200 baud, where the spec fixes
// it rather than let it shrink with the character time (§2.5.1.1).
const fixedGap = 1750 * time.Microsecond

// frameGap is t3.5, the silence that must separate two frames at baud:
// 3.5 character times up to 19200 baud, 1750 µs above and for an
// unknown baud rate.
func frameGap(baud int) time.Duration {
	if baud <= 0 || baud > 19200 {
		return fixedGap
	}
	// 3.5 characters of 11 bits: 77 half bits, rounded up.
	return time.Duration((77*int64(time.Second) + 2*int64(baud) - 1) / (2 * int64(baud)))
}

// wireTime is how long n characters take on the wire at baud, rounded
// up to the nanosecond; 0 for an unknown baud rate.
func wireTime(n, baud int) time.Duration {
	if baud <= 0 {
		return 0
	}
	bits := int64(n) * bitsPerChar
	return time.Duration((bits*int64(time.Second) + int64(baud) - 1) / int64(baud))
}
