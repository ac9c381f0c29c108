package certs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// tmpMark is in the name of every temporary file; OpenStore removes
// leftovers, which are writes a crash interrupted before their rename.
const tmpMark = ".tmp-"

// writeFile replaces dir/name with data durably and atomically: a
// temporary file in dir (mode 0600 from os.CreateTemp), written and
// fsynced, renamed over name, then dir fsynced. After a crash, name holds
// either the old or the new content, never a mix.
func writeFile(dir, name string, data []byte) (err error) {
	f, err := os.CreateTemp(dir, "."+name+tmpMark+"*")
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
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return err
	}
	return syncDir(dir)
}

// renameFile renames dir/from over dir/to and fsyncs dir.
func renameFile(dir, from, to string) error {
	if err := os.Rename(filepath.Join(dir, from), filepath.Join(dir, to)); err != nil {
		return err
	}
	return syncDir(dir)
}

// removeFile removes dir/name, if present, and fsyncs dir.
func removeFile(dir, name string) error {
	err := os.Remove(filepath.Join(dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir fsyncs a directory so that renames and removals in it are
// durable.
func syncDir(dir string) error {
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

// isTemp reports whether name is a temporary file of writeFile.
func isTemp(name string) bool {
	return strings.HasPrefix(name, ".") && strings.Contains(name, tmpMark)
}
