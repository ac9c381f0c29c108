// Package host reads the facts about the machine the agent runs on that
// the getDeviceState RPC method reports: hostname, kernel, uptime, clock
// synchronization, memory, the state directory's disk, the CPU's
// temperature and the agent's own memory.
//
// On Linux the facts come from system calls (uname, clock_gettime,
// adjtimex, statfs) and from /proc and /sys. Reading them is cheap enough
// for every call: a few system calls and small files, nothing spawned,
// nothing waited for.
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
//     filled in.
package host
