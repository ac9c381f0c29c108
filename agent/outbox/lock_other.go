//go:build !unix

package outbox

import (
	"os"
	"time"
)

// lockFile opens path; outside Unix the store relies on bbolt's own lock.
func lockFile(path string, _ time.Duration) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
}
