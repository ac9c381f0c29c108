//go:build !unix

package certs

import "io/fs"

// owner reports no owner where there are no Unix uids.
func owner(fs.FileInfo) (int, bool) { return 0, false }
