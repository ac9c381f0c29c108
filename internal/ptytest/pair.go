package ptytest

import (
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// Pair is one pseudo-terminal: the device side (its master, which Read,
// Write and Close use) and the tty at [Pair.Path] that the code under test
// opens. Read and Write may be called from different goroutines; Close may
// be called concurrently with both and unblocks them.
type Pair struct {
	master *os.File // non-blocking, in the runtime poller
	tty    *os.File // our own descriptor of the tty, kept open
	path   string

	closeOnce sync.Once
	closeErr  error
}

// NewPair makes a pair with its tty in raw mode and registers its Close
// with tb.Cleanup. It fails tb if the system has no ptys.
func NewPair(tb testing.TB) *Pair {
	tb.Helper()
	p, err := openPair()
	if err != nil {
		tb.Fatalf("ptytest: %v", err)
	}
	tb.Cleanup(func() { p.Close() })
	return p
}

// openPair makes a pair; the caller closes it.
func openPair() (*Pair, error) {
	m, tty, err := pty.Open()
	if err != nil {
		return nil, fmt.Errorf("open pty: %w", err)
	}
	path := tty.Name()
	// pty.Open leaves the master blocking (it calls Fd), so that a Close
	// would not unblock a Read in progress. A non-blocking duplicate goes
	// into the runtime poller: Close and deadlines then work. It is
	// close-on-exec, as the original is: a child process (the agent under
	// test) that inherited it would keep the tty from hanging up when the
	// pair is closed.
	fd, err := unix.FcntlInt(m.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	m.Close()
	if err != nil {
		tty.Close()
		return nil, fmt.Errorf("dup pty master: %w", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		tty.Close()
		return nil, fmt.Errorf("pty master: %w", err)
	}
	p := &Pair{master: os.NewFile(uintptr(fd), "ptmx:"+path), tty: tty, path: path}
	if err := makeRaw(tty); err != nil {
		p.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// makeRaw puts the tty in raw mode, like cfmakeraw(3), 8 bits, no flow
// control, reads returning as soon as one byte is there.
func makeRaw(tty *os.File) error {
	sc, err := tty.SyscallConn()
	if err != nil {
		return err
	}
	var ioctlErr error
	err = sc.Control(func(fd uintptr) {
		t, err := unix.IoctlGetTermios(int(fd), unix.TCGETS)
		if err != nil {
			ioctlErr = fmt.Errorf("get termios: %w", err)
			return
		}
		t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR |
			unix.IGNCR | unix.ICRNL | unix.IXON | unix.IXOFF | unix.IXANY | unix.INPCK
		t.Oflag &^= unix.OPOST
		t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
		t.Cflag &^= unix.CSIZE | unix.PARENB | unix.CRTSCTS
		t.Cflag |= unix.CS8 | unix.CREAD | unix.CLOCAL
		t.Cc[unix.VMIN] = 1
		t.Cc[unix.VTIME] = 0
		if err := unix.IoctlSetTermios(int(fd), unix.TCSETS, t); err != nil {
			ioctlErr = fmt.Errorf("set termios: %w", err)
		}
	})
	if err != nil {
		return err
	}
	return ioctlErr
}

// Path returns the tty the code under test opens: /dev/pts/N.
func (p *Pair) Path() string { return p.path }

// Read reads what the code under test wrote to the tty: the device
// receives. It blocks until at least one byte is there, the read deadline
// passes or the pair is closed (os.ErrClosed).
func (p *Pair) Read(b []byte) (int, error) { return p.master.Read(b) }

// Write sends b to the code under test: the device transmits.
func (p *Pair) Write(b []byte) (int, error) { return p.master.Write(b) }

// SetReadDeadline sets the deadline of the device side's reads, as
// os.File.SetReadDeadline: a Read past it fails with an error that
// errors.Is os.ErrDeadlineExceeded.
func (p *Pair) SetReadDeadline(t time.Time) error { return p.master.SetReadDeadline(t) }

// Close closes the device side, which hangs up the tty: the code under
// test's writes fail with EIO and its reads return end of file, as when
// an adapter is pulled.
// It unblocks the device side's Read and Write in progress. Calling it
// again does nothing and returns the first call's result.
func (p *Pair) Close() error {
	p.closeOnce.Do(func() {
		err1 := p.master.Close()
		err2 := p.tty.Close()
		if err1 != nil {
			p.closeErr = fmt.Errorf("ptytest: close %s master: %w", p.path, err1)
		} else if err2 != nil {
			p.closeErr = fmt.Errorf("ptytest: close %s: %w", p.path, err2)
		}
	})
	return p.closeErr
}
