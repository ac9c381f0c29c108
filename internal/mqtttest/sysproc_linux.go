package mqtttest

import "syscall"

// sysProcAttr makes the kernel kill the broker when the test binary dies.
// (The signal follows the death of the OS thread that started the child; Go
// only ends threads whose goroutine exits while locked to them, which this
// package never does.)
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
