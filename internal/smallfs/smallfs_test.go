package smallfs_test

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/iot-hub/agent/internal/smallfs"
)

func TestMountFillFree(t *testing.T) {
	const size = 2 << 20
	dir := smallfs.Mount(t, size)
	filler := filepath.Join(dir, "filler")
	n := smallfs.Fill(t, filler)
	if n < size/2 || n > size {
		t.Fatalf("Fill wrote %d bytes on a file system of %d; want most of it, and no more", n, size)
	}
	err := os.WriteFile(filepath.Join(dir, "more"), make([]byte, 4096), 0o600)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("writing 4 KiB after Fill = %v; want ENOSPC", err)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "more"), make([]byte, 4096), 0o600); err != nil {
		t.Fatalf("writing 4 KiB after removing the filler = %v; want the room back", err)
	}
}
