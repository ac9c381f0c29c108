package host

import (
	"fmt"
	"runtime"
	"time"
)

// Facts describes the machine the agent runs on, at one instant.
type Facts struct {
	// Hostname is the machine's host name.
	Hostname string
	// OS and Arch are the operating system and architecture the agent
	// was built for, as runtime.GOOS and runtime.GOARCH.
	OS, Arch string
	// Kernel is the kernel's release, as uname -r prints it.
	Kernel string
	// BootTime is when the machine booted, by the wall clock now.
	BootTime time.Time
	// Uptime is how long the machine has run since it booted, time
	// suspended included.
	Uptime time.Duration
	// ClockSynchronized tells whether the kernel holds its clock as
	// synchronized by NTP (adjtimex: STA_UNSYNC clear, state not
	// TIME_ERROR).
	ClockSynchronized bool
	// MemTotalBytes and MemAvailableBytes are the machine's usable RAM and
	// an estimate of how much of it can be given to new work without
	// swapping (/proc/meminfo's MemTotal and MemAvailable).
	MemTotalBytes, MemAvailableBytes uint64
	// Disk is the file system that holds the agent's state directory.
	Disk Disk
	// CPUTemperatureCelsius is the CPU's temperature, or that of the
	// board's first thermal zone when none is the CPU's; nil when the
	// machine has no thermal zone that reads.
	CPUTemperatureCelsius *float64
	// ProcessRSSBytes is the agent's resident set: the RAM it occupies.
	ProcessRSSBytes uint64
}

// Disk describes the file system that holds a directory.
type Disk struct {
	// Path is the directory.
	Path string
	// TotalBytes is the file system's size, FreeBytes how much of it is
	// free, AvailableBytes how much of that an unprivileged process may
	// use (the rest is reserved for root).
	TotalBytes, FreeBytes, AvailableBytes uint64
}

// Read returns the facts about this machine, with the disk that holds
// stateDir. A fact that cannot be read is left zero; Read fails only when
// none can (see the package's caveats). Some facts are cached: the memory,
// resident set and temperature may be up to a second old (see the
// package's Freshness). It is safe for concurrent use.
func Read(stateDir string) (Facts, error) {
	f := Facts{OS: runtime.GOOS, Arch: runtime.GOARCH, Disk: Disk{Path: stateDir}}
	if err := fill(&f); err != nil {
		return f, fmt.Errorf("host: %w", err)
	}
	return f, nil
}
