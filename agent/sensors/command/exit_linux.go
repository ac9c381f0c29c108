package command

import (
	"os"

	"golang.org/x/sys/unix"
)

// awaitExit waits in the runtime's poller, through a pidfd, until p has
// exited, so that the Wait that follows reaps it at once. Wait alone
// blocks its thread in waitid(2) while the program runs, and the runtime
// hands the agent's one P to another thread meanwhile, and back: thread
// switches that cost more than the wait (BenchmarkAgentMixedCPU's exec
// sensors). Where no pidfd can be had (Linux before 5.3) it returns at
// once, and Wait waits as it did.
func awaitExit(p *os.Process) {
	fd, err := unix.PidfdOpen(p.Pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	// A pidfd reads ready once its process has exited; WNOWAIT leaves
	// the process to Wait.
	_ = rc.Read(func(fd uintptr) bool {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PIDFD, int(fd), &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
		return err != nil || info.Signo != 0
	})
}
