package certs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/iot-hub/agent/internal/atomicfile"
)

// writeFile replaces dir/name with data durably and atomically
// (atomicfile.WriteFile; OpenStore removes the temporary files a crash
// leaves).
func writeFile(dir, name string, data []byte) error {
	return atomicfile.WriteFile(filepath.Join(dir, name), data)
}

// renameFile renames dir/from over dir/to and fsyncs dir.
func renameFile(dir, from, to string) error {
	return atomicfile.Rename(filepath.Join(dir, from), filepath.Join(dir, to))
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
	return atomicfile.SyncDir(dir)
}
