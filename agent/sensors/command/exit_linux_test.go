package command

import (
	"errors"
	"os/exec"
	"testing"
	"time"
)

// TestAwaitExitLeavesTheProcessToWait: awaitExit returns once the
// program has exited, not before, and Wait still reaps it with its
// status.
func TestAwaitExitLeavesTheProcessToWait(t *testing.T) {
	cmd := exec.Command("/bin/sh", "-c", "sleep 0.2; exit 3")
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	awaitExit(cmd.Process)
	if waited := time.Since(start); waited < 150*time.Millisecond {
		t.Errorf("awaitExit returned after %v; the program runs 200 ms", waited)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Errorf("Wait after awaitExit = %v; want exit status 3", err)
	}
}
