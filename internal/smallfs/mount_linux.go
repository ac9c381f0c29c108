package smallfs

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// mount mounts a tmpfs of size bytes on dir or, failing that, an ext4
// image of size bytes through a loop device.
func mount(t testing.TB, dir string, size int64) error {
	errTmpfs := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, fmt.Sprintf("size=%d,mode=0700", size))
	if errTmpfs == nil {
		t.Cleanup(func() { unmount(t, dir) })
		return nil
	}
	errExt4 := mountExt4(t, dir, size)
	if errExt4 == nil {
		return nil
	}
	return fmt.Errorf("cannot mount a small file system (root or CAP_SYS_ADMIN needed): tmpfs: %w; loop-mounted ext4: %w", errTmpfs, errExt4)
}

// mountExt4 makes an ext4 image of size bytes and mounts it on dir
// through a loop device.
func mountExt4(t testing.TB, dir string, size int64) error {
	img := filepath.Join(t.TempDir(), "fs.img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		return err
	}
	if err := os.Truncate(img, size); err != nil {
		return err
	}
	// -m 0: no blocks kept for root, who would otherwise still find room.
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", "-m", "0", img).CombinedOutput(); err != nil {
		return fmt.Errorf("mkfs.ext4: %w: %s", err, out)
	}
	if out, err := exec.Command("mount", "-o", "loop", img, dir).CombinedOutput(); err != nil {
		return fmt.Errorf("mount -o loop: %w: %s", err, out)
	}
	t.Cleanup(func() { unmount(t, dir) })
	return nil
}

// unmount unmounts dir; if something still holds it, it detaches it.
func unmount(t testing.TB, dir string) {
	err := syscall.Unmount(dir, 0)
	if err == nil {
		return
	}
	t.Logf("smallfs: unmount %s: %v; detaching it", dir, err)
	if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
		t.Errorf("smallfs: unmount %s: %v", dir, err)
	}
}
