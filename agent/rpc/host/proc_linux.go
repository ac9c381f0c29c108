package host

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// readMemory reads MemTotal and MemAvailable from /proc/meminfo. It fails
// when MemTotal is missing.
func (r reader) readMemory(f *Facts, buf []byte) error {
	b, err := r.readFile("proc/meminfo", buf)
	if err != nil {
		return err
	}
	for len(b) > 0 {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte("\n"))
		key, value, _ := bytes.Cut(line, []byte(":"))
		switch string(key) {
		case "MemTotal":
			f.MemTotalBytes = meminfoBytes(value)
		case "MemAvailable":
			f.MemAvailableBytes = meminfoBytes(value)
		}
	}
	if f.MemTotalBytes == 0 {
		return fmt.Errorf("%s: no MemTotal", r.path("proc/meminfo"))
	}
	return nil
}

// meminfoBytes returns the bytes a meminfo value such as "  1024 kB" gives,
// 0 when it is malformed.
func meminfoBytes(value []byte) uint64 {
	number, ok := bytes.CutSuffix(bytes.TrimSpace(value), []byte(" kB"))
	if !ok {
		return 0
	}
	// 54 bits, that the product by 1024 fits in 64.
	n, err := strconv.ParseUint(string(number), 10, 54)
	if err != nil {
		return 0
	}
	return n * 1024
}

// readRSS reads the process's resident set from /proc/self/statm, its
// second field, in pages.
func (r reader) readRSS(f *Facts, buf []byte) error {
	b, err := r.readFile("proc/self/statm", buf)
	if err != nil {
		return err
	}
	_, rest, _ := bytes.Cut(b, []byte(" "))
	resident, _, _ := bytes.Cut(rest, []byte(" "))
	pages, err := strconv.ParseUint(string(bytes.TrimSpace(resident)), 10, 64)
	if err != nil {
		return fmt.Errorf("%s: resident set: %w", r.path("proc/self/statm"), err)
	}
	f.ProcessRSSBytes = pages * uint64(os.Getpagesize())
	return nil
}
