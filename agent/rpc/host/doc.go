// Package host reads the facts about the machine the agent runs on that
// the getDeviceState RPC method reports: hostname, kernel, uptime, clock
// synchronization, memory, the state directory's disk, the CPU's
// temperature and the agent's own memory.
//
// On Linux the facts come from system calls (uname, clock_gettime,
// adjtimex, statfs) and from /proc and /sys.
//
// # Freshness
//
// [Read] runs on every getDeviceState call, so it reads each fact no more
// often than the fact changes, or than a caller could tell:
//
//   - The hostname and the kernel's release are read once, on the first
//     Read, and kept: they do not change while the agent runs (a host
//     renamed while it runs shows the new name after the agent restarts).
//     OS and Arch are the build's.
//   - The uptime and boot time come from a system call, on every Read.
//   - The memory (/proc/meminfo), the agent's resident set
//     (/proc/self/statm), the CPU's temperature (a thermal zone's temp
//     file), the clock's synchronization (adjtimex) and the state
//     directory's disk (statfs) are read at most once a second, and the
//     reading is shared until then: these facts may be up to a second
//     old. MemAvailable has no system call (sysinfo's freeram is not it),
//     so the file stays; the second spares the kernel building
//     /proc/meminfo, the file opens and the system calls on every call
//     under load (each costs more than the rest of the answer on a
//     virtual machine), and no caller can tell a second's age in a
//     snapshot of the device's state. A Read for another state directory
//     than the last reads that directory's disk at once. The files are
//     read into one buffer and parsed without allocating.
//   - Which thermal zone is the CPU's is chosen once, by scanning
//     /sys/class/thermal; then only the chosen zone's temp file is read.
//     The zones are scanned again when it stops reading, and every minute
//     while the choice is not a CPU's zone (another zone's, or none): a
//     driver loaded late may add the CPU's.
//
// # Caveats
//
//   - A fact that cannot be read is left zero and does not fail [Read]:
//     the memory and RSS without /proc, the disk when the state directory
//     is missing, MemAvailableBytes on kernels before 3.14, the clock's
//     synchronization where adjtimex is forbidden (it reads false).
//     Read fails only when no fact at all could be read.
//   - CPUTemperatureCelsius is nil on a machine without thermal zones
//     (containers and most VMs have none).
//   - Elsewhere than on Linux only the hostname, OS and architecture are
//     filled in; the hostname is read once, like on Linux.
package host
