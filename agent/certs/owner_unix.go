//go:build unix

package certs

import (
	"io/fs"
	"syscall"
)

// owner returns the uid owning a file.
func owner(info fs.FileInfo) (int, bool) {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}
