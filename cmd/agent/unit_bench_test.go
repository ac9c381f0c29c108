package main

import (
	"bufio"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// unitFile is the package's systemd unit, which says how the agent runs
// on a gateway.
const unitFile = "../../packaging/systemd/iot-hub-agent.service"

// asTheUnitRuns calls start, which starts agents, with what the package's
// systemd unit sets for the agent's process and the CPU benchmarks must
// measure it with: its timer slack (TimerSlackNSec=), which a process
// inherits from the thread that forks it. The benchmarks so measure the
// agent as it runs on a gateway; run by hand, with the kernel's default
// slack of 50 µs, it wakes more often (docs/development.md).
func asTheUnitRuns(tb testing.TB, start func()) {
	tb.Helper()
	slack := unitTimerSlack(tb)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	was, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
	if err != nil {
		tb.Fatalf("PR_GET_TIMERSLACK: %v", err)
	}
	if err := unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(slack.Nanoseconds()), 0, 0, 0); err != nil {
		tb.Fatalf("PR_SET_TIMERSLACK %v: %v", slack, err)
	}
	defer func() { _ = unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(was), 0, 0, 0) }()
	start()
}

// unitTimerSlack returns the unit's TimerSlackNSec=, which must be there,
// written as a Go duration ("1ms").
func unitTimerSlack(tb testing.TB) time.Duration {
	tb.Helper()
	f, err := os.Open(unitFile)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	for sc := bufio.NewScanner(f); sc.Scan(); {
		if v, ok := strings.CutPrefix(sc.Text(), "TimerSlackNSec="); ok {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				tb.Fatalf("%s: TimerSlackNSec=%s: want a duration such as 1ms", unitFile, v)
			}
			return d
		}
	}
	tb.Fatalf("%s: no TimerSlackNSec=", unitFile)
	return 0
}
