//go:build unix

package outbox

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// errLocked: another process holds the store.
var errLocked = errors.New("locked by another process")

// lockFile takes an exclusive lock on path (created if need be), waiting
// up to timeout. The store holds it from Open to Close: bbolt's own lock
// is released while compaction swaps the file, and another process must
// not open the store in that moment.
func lockFile(path string, timeout time.Duration) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(timeout)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, fmt.Errorf("%s: %w", path, errLocked)
			}
			return nil, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}
