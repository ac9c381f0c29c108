// Package atomicfile replaces files durably and atomically, for the
// agent's small state files (certificates, the rotation journal, a
// simulated sensor's state): after a crash or a power cut a file holds
// either its old content or its new one, never a mix.
package atomicfile

import (
	"os"
	"path/filepath"
	"strings"
)

// tmpMark is in the name of every temporary file WriteFile makes; a
// leftover is a write a crash interrupted before its rename (IsTemp).
const tmpMark = ".tmp-"

// WriteFile replaces the file at path with data: a temporary file beside
// it (mode 0600, from os.CreateTemp), written and fsynced, renamed over
// path, then the directory fsynced.
func WriteFile(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+tmpMark+"*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return SyncDir(dir)
}

// Rename renames from over to, in the same directory, and fsyncs the
// directory, so that the rename survives a power cut.
func Rename(from, to string) error {
	if err := os.Rename(from, to); err != nil {
		return err
	}
	return SyncDir(filepath.Dir(to))
}

// SyncDir fsyncs a directory, so that renames and removals in it are
// durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// IsTemp reports whether name (a base name) is a temporary file of
// WriteFile, left by a crash.
func IsTemp(name string) bool {
	return strings.HasPrefix(name, ".") && strings.Contains(name, tmpMark)
}
