package ptytest

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// LinkName is the name of a [Link]'s symlink, in a directory of its own
// like /dev/serial/by-id.
const LinkName = "usb-FTDI_FT232R_USB_UART_PTYTEST-if00-port0"

// Link is a stable path to a device that can be unplugged and plugged in
// again: a symlink in a temporary directory that points at the tty of its
// current [Pair], as udev's /dev/serial/by-id/... links do. Its methods
// are safe for concurrent use; those taking no testing.TB report failures
// through the one given to [NewLink], so call them from the test's
// goroutine.
type Link struct {
	tb   testing.TB
	path string

	mu     sync.Mutex
	pair   *Pair
	ttys   map[string]bool // every tty the link pointed at
	closed bool
}

// NewLink makes a link that points at a new pair, plugged in. tb.Cleanup
// closes the pair in use.
func NewLink(tb testing.TB) *Link {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "by-id")
	if err := os.Mkdir(dir, 0o755); err != nil {
		tb.Fatalf("ptytest: %v", err)
	}
	l := &Link{tb: tb, path: filepath.Join(dir, LinkName), ttys: make(map[string]bool)}
	tb.Cleanup(l.close)
	l.Replug()
	return l
}

// Path returns the symlink's path, which does not change.
func (l *Link) Path() string { return l.path }

// Pair returns the pair plugged in, or nil after [Link.Unplug].
func (l *Link) Pair() *Pair {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.pair
}

// Unplug closes the pair plugged in (the code under test's writes fail
// with EIO, its reads return end of file) and removes the symlink, as
// udev does when an adapter is pulled: opening [Link.Path] then fails with
// ENOENT. Unplugging an unplugged link does nothing.
func (l *Link) Unplug() {
	l.tb.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.unplug(); err != nil {
		l.tb.Fatalf("ptytest: unplug: %v", err)
	}
}

// unplug is Unplug with l.mu held.
func (l *Link) unplug() error {
	if l.pair == nil {
		return nil
	}
	err := l.pair.Close()
	l.pair = nil
	if rmErr := os.Remove(l.path); rmErr != nil && err == nil {
		err = rmErr
	}
	return err
}

// Replug unplugs the pair plugged in, if any, and plugs in a new one whose
// tty is a /dev/pts path the link never pointed at, then points the symlink
// at it (atomically, by a rename). It returns the new pair.
func (l *Link) Replug() *Pair {
	l.tb.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	p, err := l.replug()
	if err != nil {
		l.tb.Fatalf("ptytest: replug %s: %v", l.path, err)
	}
	return p
}

// replug is Replug with l.mu held.
func (l *Link) replug() (*Pair, error) {
	if l.closed {
		return nil, fmt.Errorf("link closed")
	}
	if err := l.unplug(); err != nil {
		return nil, err
	}
	// Linux hands out the lowest free pty number: the one just freed, if
	// the code under test has closed it. Hold on to such pairs until one
	// has a new number.
	var spares []*Pair
	defer func() {
		for _, s := range spares {
			s.Close()
		}
	}()
	for {
		p, err := openPair()
		if err != nil {
			return nil, err
		}
		if !l.ttys[p.Path()] {
			tmp := l.path + ".new"
			os.Remove(tmp)
			if err := os.Symlink(p.Path(), tmp); err != nil {
				p.Close()
				return nil, err
			}
			if err := os.Rename(tmp, l.path); err != nil {
				p.Close()
				return nil, err
			}
			l.ttys[p.Path()] = true
			l.pair = p
			return p, nil
		}
		spares = append(spares, p)
	}
}

// close unplugs for good; tb.Cleanup calls it.
func (l *Link) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	if err := l.unplug(); err != nil {
		l.tb.Errorf("ptytest: close link: %v", err)
	}
}
