//go:build !linux

package outbox_test

import "errors"

// Off Linux there is no /proc: the benchmarks that need it skip.

var errBenchNoProc = errors.New("no /proc on this system")

func benchIO() (writeBytes, wchar int64, err error) { return 0, 0, errBenchNoProc }

func benchRssAnonKB() (int64, error) { return 0, errBenchNoProc }

func benchFSType(string) string { return "unknown" }
