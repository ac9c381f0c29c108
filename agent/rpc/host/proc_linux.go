package host

import (
	"bytes"
	"errors"
	"os"
)

// readMemory reads MemTotal and MemAvailable from /proc/meminfo, r.mu
// held. It fails when MemTotal is missing.
func (r *reader) readMemory() (total, available uint64, err error) {
	b, err := r.readFile(r.meminfo)
	if err != nil {
		return 0, 0, err
	}
	total, available = parseMeminfo(b)
	if total == 0 {
		return 0, available, errors.New(r.meminfo + ": no MemTotal")
	}
	return total, available, nil
}

// parseMeminfo returns MemTotal and MemAvailable in bytes from the text of
// /proc/meminfo, 0 for either when it is missing or malformed.
func parseMeminfo(b []byte) (total, available uint64) {
	// Both lead the file; the scan stops when both are read.
	var haveTotal, haveAvailable bool
	for len(b) > 0 && !(haveTotal && haveAvailable) {
		var line []byte
		line, b = cutByte(b, '\n')
		key, value := cutByte(line, ':')
		switch string(key) {
		case "MemTotal":
			total, haveTotal = meminfoBytes(value), true
		case "MemAvailable":
			available, haveAvailable = meminfoBytes(value), true
		}
	}
	return total, available
}

// meminfoBytes returns the bytes a meminfo value such as "  1024 kB" gives,
// 0 when it is malformed.
func meminfoBytes(value []byte) uint64 {
	value = bytes.TrimSpace(value)
	const unit = " kB"
	if len(value) < len(unit) || string(value[len(value)-len(unit):]) != unit {
		return 0
	}
	// 54 bits, that the product by 1024 fits in 64.
	n, ok := parseUint(value[:len(value)-len(unit)], 54)
	if !ok {
		return 0
	}
	return n * 1024
}

// readRSS reads the process's resident set from /proc/self/statm, its
// second field, in pages, r.mu held.
func (r *reader) readRSS() (uint64, error) {
	b, err := r.readFile(r.statm)
	if err != nil {
		return 0, err
	}
	_, rest := cutByte(b, ' ')
	resident, _ := cutByte(rest, ' ')
	pages, ok := parseUint(bytes.TrimSpace(resident), 64)
	if !ok {
		return 0, errors.New(r.statm + ": no resident set")
	}
	return pages * uint64(os.Getpagesize()), nil
}

// cutByte slices b around the first c: before and after it, or all of b
// and nothing when there is none.
func cutByte(b []byte, c byte) (before, after []byte) {
	if i := bytes.IndexByte(b, c); i >= 0 {
		return b[:i], b[i+1:]
	}
	return b, nil
}

// parseUint parses a decimal number of bits bits at most, digits only,
// without allocating (strconv takes a string).
func parseUint(b []byte, bits uint) (uint64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	limit := uint64(1)<<bits - 1 // all ones for 64
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if n > (limit-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// parseInt parses a decimal number of 64 bits, signed or not, without
// allocating.
func parseInt(b []byte) (int64, bool) {
	negative := len(b) > 0 && b[0] == '-'
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		b = b[1:]
	}
	n, ok := parseUint(b, 63)
	if !ok {
		return 0, false
	}
	if negative {
		return -int64(n), true
	}
	return int64(n), true
}
