//go:build linux && (amd64 || arm64)

package powercut

import (
	"os"
	"testing"
	"time"
)

// ForTest mounts a filesystem for the test tb, served by the test binary
// itself (whose TestMain calls Serve), over temporary directories, and
// closes it when the test ends; it skips the test, saying why, when
// FUSE is not there to mount (Available).
func ForTest(tb testing.TB, seed uint64, syncDelay time.Duration) *Proc {
	tb.Helper()
	if err := Available(); err != nil {
		tb.Skip("power cuts need FUSE:", err)
	}
	p, err := Start(os.Args[0], tb.TempDir(), tb.TempDir(), seed, syncDelay)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := p.Close(); err != nil {
			tb.Error(err)
		}
	})
	return p
}
