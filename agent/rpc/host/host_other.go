//go:build !linux

package host

import (
	"os"
	"sync"
)

// hostname is the host name, read by the first fill that could.
var hostname struct {
	sync.Mutex
	name string
}

// fill sets the hostname, all the standard library can tell.
func fill(f *Facts) error {
	hostname.Lock()
	defer hostname.Unlock()
	if hostname.name == "" {
		h, err := os.Hostname()
		if err != nil {
			return err
		}
		hostname.name = h
	}
	f.Hostname = hostname.name
	return nil
}
