//go:build !linux

package command

import "os"

// awaitExit leaves the wait for p to Wait: outside Linux there is no
// pidfd to wait on in the runtime's poller.
func awaitExit(*os.Process) {}
