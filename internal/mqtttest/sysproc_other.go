//go:build !linux

package mqtttest

import "syscall"

// sysProcAttr has nothing to set outside Linux: a broker outlives a test
// binary that dies without running its cleanups.
func sysProcAttr() *syscall.SysProcAttr { return nil }
