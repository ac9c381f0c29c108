//go:build !linux

package smallfs

import (
	"errors"
	"testing"
)

// mount fails: mounting a file system for a test is done on Linux only.
func mount(testing.TB, string, int64) error {
	return errors.New("mounting a small file system is done on Linux only")
}
