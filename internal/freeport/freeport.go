// Package freeport hands out TCP ports on 127.0.0.1 that were free a
// moment ago, for a server to be started on: a test's mosquitto, the
// agent's health listener. It never hands out the same port twice in one
// process. Binding port 0 and closing the listener frees the port for
// the kernel to give out again, and it does, now and then, to the next
// such bind: two servers of one test were given the same port, and the
// second failed to start (address already in use).
package freeport

import (
	"errors"
	"net"
	"sync"
)

var (
	mu    sync.Mutex
	given = map[int]bool{}
)

// Port returns a port on 127.0.0.1 that was free a moment ago and that
// this process has not been given before. Another process may still take
// it before the server binds it.
func Port() (int, error) {
	mu.Lock()
	defer mu.Unlock()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		if err := l.Close(); err != nil {
			return 0, err
		}
		if !given[port] {
			given[port] = true
			return port, nil
		}
	}
	return 0, errors.New("freeport: the kernel gave 100 ports in a row that were handed out already")
}
