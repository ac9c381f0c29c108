// Package smallfs gives tests a small file system of their own, to see
// what a full disk does: a tmpfs of the size asked for or, where a tmpfs
// cannot be mounted, a loop-mounted ext4 image. Mounting needs root
// (CAP_SYS_ADMIN) on Linux. Where it is impossible, [Mount] skips the
// test, naming why, or fails it when the environment variable CI is set:
// CI must run these tests.
package smallfs

import (
	"errors"
	"os"
	"syscall"
	"testing"
)

// EnvCI names the environment variable that marks a CI run.
const EnvCI = "CI"

// Mount mounts a file system of size bytes on a new directory and returns
// the directory; the test's cleanup unmounts it, after the cleanups
// registered later (a process the test starts, with files open there).
func Mount(t testing.TB, size int64) string {
	t.Helper()
	dir := t.TempDir()
	if err := mount(t, dir, size); err != nil {
		if os.Getenv(EnvCI) != "" {
			t.Fatalf("smallfs: %v", err)
		}
		t.Skipf("smallfs: %v", err)
	}
	return dir
}

// Fill writes path, a new file, until the file system has no room left,
// and returns how many bytes it took. Removing path gives the room back.
func Fill(t testing.TB, path string) int64 {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatalf("smallfs: %v", err)
	}
	defer f.Close()
	var n int64
	buf := make([]byte, 64<<10)
	// Large writes, then smaller ones for the last blocks.
	for _, size := range []int{len(buf), 4096, 512, 1} {
		for {
			w, err := f.Write(buf[:size])
			n += int64(w)
			if errors.Is(err, syscall.ENOSPC) {
				break
			}
			if err != nil {
				t.Fatalf("smallfs: filling %s: %v", path, err)
			}
		}
	}
	if err := f.Sync(); err != nil {
		t.Fatalf("smallfs: sync %s: %v", path, err)
	}
	return n
}
