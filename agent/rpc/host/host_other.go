//go:build !linux

package host

import "os"

// fill sets the hostname, all the standard library can tell.
func fill(f *Facts) error {
	h, err := os.Hostname()
	f.Hostname = h
	return err
}
