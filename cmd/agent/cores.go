package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// runOnOneCore has the agent run on one core, unless GOMAXPROCS in its
// environment says otherwise, when it does neither of these:
//
//   - Its Go code runs on one thread at a time (GOMAXPROCS=1). The
//     agent's work is waiting: for sensors, devices, the broker, the
//     disk. With more Ps, a goroutine woken on one thread is often run
//     on another, woken for it, and a third spins looking for work: on
//     a gateway's small CPU each of those thread switches costs more
//     than the work (BenchmarkAgentMixedCPU: 200 sensors and 50 device
//     messages a second took 2.4% of a core with two Ps, 2.1% with one;
//     thread switches 540 → 320 a second).
//   - Its threads all stay on one CPU, the first of those it may run on
//     (CPU 0, unless systemd's CPUAffinity= or a cpuset says otherwise).
//     The runtime's threads (the one running Go code, the one it hands
//     the work to while the first waits in a system call, sysmon) then
//     wake each other on their own CPU, rather than with an
//     interprocessor interrupt that wakes another: about 0.2 point of a
//     core less in the same benchmark (11 alternated or side-by-side
//     pairs of runs). The programs of exec sensors share it.
//
// It leaves the other cores to the gateway's applications. Draining a
// large backlog is then bound by one core; give the agent more with
// GOMAXPROCS (a systemd drop-in: Environment=GOMAXPROCS=4), and choose
// its CPUs with CPUAffinity=.
//
// It returns the CPU the agent stays on, or -1 when it does not (with
// GOMAXPROCS set, or when pinning failed, err saying why: the agent runs
// on all the same).
func runOnOneCore() (cpu int, err error) {
	if os.Getenv("GOMAXPROCS") != "" {
		return -1, nil
	}
	runtime.GOMAXPROCS(1)
	return pinToOneCPU()
}

// pinToOneCPU pins every thread of the process to the lowest-numbered
// CPU it may run on, and returns that CPU. Threads started later inherit
// the pin from the thread that starts them.
func pinToOneCPU() (int, error) {
	var allowed unix.CPUSet
	if err := unix.SchedGetaffinity(0, &allowed); err != nil {
		return -1, fmt.Errorf("staying on one CPU: %w", err)
	}
	cpu := firstCPU(&allowed)
	if cpu < 0 {
		return -1, errors.New("staying on one CPU: the affinity mask is empty")
	}
	var one unix.CPUSet
	one.Set(cpu)
	// A thread the runtime starts meanwhile, from one not pinned yet, is
	// not: go over them again until every one is.
	for range 10 {
		changed, err := pinThreads(&one)
		if err != nil {
			return -1, fmt.Errorf("staying on CPU %d: %w", cpu, err)
		}
		if !changed {
			return cpu, nil
		}
	}
	return -1, fmt.Errorf("staying on CPU %d: threads kept starting", cpu)
}

// firstCPU is the lowest-numbered CPU in set, or -1 if none is.
func firstCPU(set *unix.CPUSet) int {
	for cpu := range 8 * int(unsafe.Sizeof(*set)) {
		if set.IsSet(cpu) {
			return cpu
		}
	}
	return -1
}

// pinThreads sets the affinity of every thread of the process to one,
// and reports whether any had another.
func pinThreads(one *unix.CPUSet) (changed bool, err error) {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return false, err
	}
	for _, task := range tasks {
		tid, err := strconv.Atoi(task.Name())
		if err != nil {
			continue
		}
		var now unix.CPUSet
		switch err := unix.SchedGetaffinity(tid, &now); {
		case errors.Is(err, unix.ESRCH): // it has ended
			continue
		case err != nil:
			return false, fmt.Errorf("thread %d: %w", tid, err)
		case now == *one:
			continue
		}
		if err := unix.SchedSetaffinity(tid, one); err != nil && !errors.Is(err, unix.ESRCH) {
			return false, fmt.Errorf("thread %d: %w", tid, err)
		}
		changed = true
	}
	return changed, nil
}
