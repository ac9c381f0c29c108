package certs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Modes CheckPermissions requires: every file in a store holds a private
// key.
const (
	dirMode  fs.FileMode = 0o700
	fileMode fs.FileMode = 0o600
)

// CheckPermissions refuses a store directory that others could read or
// change, as the AWS IoT Device Client does at start: dir and every
// directory under it must have mode 0700, every file mode 0600, and all
// must be owned by the current user (on Unix); symbolic links and other
// special files are refused. The error wraps ErrPermissions and joins one
// message per offence, naming the path, its mode and what it must be.
func CheckPermissions(dir string) error {
	var errs []error
	walkErr := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if e := checkOne(path, info); e != nil {
			errs = append(errs, e)
		}
		return nil
	})
	if walkErr != nil {
		return fmt.Errorf("certs: check permissions: %w", walkErr)
	}
	return errors.Join(errs...)
}

// checkOne checks the mode and owner of one path.
func checkOne(path string, info fs.FileInfo) error {
	mode := info.Mode()
	var want fs.FileMode
	switch {
	case mode.IsDir():
		want = dirMode
	case mode.IsRegular():
		want = fileMode
	default:
		return fmt.Errorf("certs: %w: %s is a %s, must be a regular file", ErrPermissions, path, kind(mode))
	}
	if got := mode & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky); got != want {
		return fmt.Errorf("certs: %w: %s has mode %#o, must be %#o (chmod %o %s)", ErrPermissions, path, uint32(got.Perm())|special(got), uint32(want), uint32(want), path)
	}
	if uid, ok := owner(info); ok && uid != os.Getuid() {
		return fmt.Errorf("certs: %w: %s is owned by uid %d, must be owned by the agent's uid %d", ErrPermissions, path, uid, os.Getuid())
	}
	return nil
}

// special returns the setuid, setgid and sticky bits of m as octal
// digits.
func special(m fs.FileMode) uint32 {
	var s uint32
	if m&fs.ModeSetuid != 0 {
		s |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		s |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		s |= 0o1000
	}
	return s
}

// kind names a file type that is neither a directory nor a regular file.
func kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "special file"
}
