//go:build linux

package serialport

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// tty is an open serial device. Its descriptor is non-blocking and in
// the runtime's poller, as a socket's is: a read waiting for a byte
// parks its goroutine, not a thread, ends at its deadline, and ends
// when the deadline is moved to the past (a cancelled transaction).
//
// go.bug.st/serial, which the package used before, waits in select(2)
// on a blocked thread: with the agent's one P, each read that waits
// hands the P to another thread and back, a few thread switches a
// Modbus transaction; such a read can only be interrupted by closing
// the port; and select(2) cannot take a descriptor of 1024 or more.
type tty struct {
	f  *os.File
	rc syscall.RawConn
}

var _ device = (*tty)(nil)

// openTTY opens cfg.Path as a raw serial line framed by cfg, for this
// process alone (TIOCEXCL: another process that is not root cannot open
// it meanwhile).
func openTTY(cfg Config) (device, error) {
	fd, err := unix.Open(cfg.Path, unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err // OpenError names the path
	}
	if err := frame(fd, cfg); err != nil {
		unix.Close(fd)
		return nil, err
	}
	f := os.NewFile(uintptr(fd), cfg.Path) // non-blocking: into the poller
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &tty{f: f, rc: rc}, nil
}

// frame puts the tty fd in raw mode at cfg's baud rate and framing, and
// takes it for this process alone.
func frame(fd int, cfg Config) error {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS2)
	if err != nil {
		return fmt.Errorf("not a serial device: %w", err)
	}
	setFraming(t, cfg)
	if err := retryInterrupted(func() error { return unix.IoctlSetTermios(fd, unix.TCSETS2, t) }); err != nil {
		return fmt.Errorf("setting %s: %w", cfg.framing(), err)
	}
	if err := unix.IoctlSetInt(fd, unix.TIOCEXCL, 0); err != nil {
		return fmt.Errorf("taking it for this process alone (TIOCEXCL): %w", err)
	}
	return nil
}

// Read reads at least one byte, waiting until the read deadline.
func (t *tty) Read(b []byte) (int, error) { return t.f.Read(b) }

// Write writes all of b.
func (t *tty) Write(b []byte) (int, error) { return t.f.Write(b) }

// SetReadDeadline sets when a waiting Read ends; zero: never.
func (t *tty) SetReadDeadline(d time.Time) error { return t.f.SetReadDeadline(d) }

// Close closes the device; a Read waiting ends.
func (t *tty) Close() error { return t.f.Close() }

// Drain waits until what was written has left the UART (tcdrain).
func (t *tty) Drain() error {
	return t.ioctl(func(fd int) error { return unix.IoctlSetInt(fd, unix.TCSBRK, 1) })
}

// FlushInput discards the input (tcflush TCIFLUSH).
func (t *tty) FlushInput() error { return t.ioctl(flushInput) }

func flushInput(fd int) error { return unix.IoctlSetInt(fd, unix.TCFLSH, unix.TCIFLUSH) }

// ioctl runs op on the descriptor, and returns its error or the
// descriptor's (closed).
func (t *tty) ioctl(op func(fd int) error) error {
	var err error
	if cerr := t.rc.Control(func(fd uintptr) { err = op(int(fd)) }); cerr != nil {
		return cerr
	}
	return err
}

// DropWaiting discards the input if any waits (TIOCINQ). Most of the
// time none does, and a flush is not free: a pty's wakes the process at
// its other end.
func (t *tty) DropWaiting() error {
	return t.ioctl(func(fd int) error {
		n, err := unix.IoctlGetInt(fd, unix.TIOCINQ)
		if err != nil || n == 0 {
			return err
		}
		return flushInput(fd)
	})
}

// ReadWaiting reads what the input holds without waiting: (0, nil) when
// it holds nothing.
func (t *tty) ReadWaiting(b []byte) (int, error) {
	if err := t.f.SetReadDeadline(time.Time{}); err != nil {
		return 0, err
	}
	n, rerr := 0, error(nil)
	err := t.rc.Read(func(fd uintptr) bool {
		n, rerr = unix.Read(int(fd), b)
		return true // one attempt, whatever it got
	})
	switch {
	case err != nil:
		return 0, err
	case errors.Is(rerr, unix.EAGAIN):
		return 0, nil
	case rerr != nil:
		return 0, rerr
	case n == 0:
		return 0, errHangup
	}
	return n, nil
}

// setFraming makes t raw, at cfg's baud rate and framing.
func setFraming(t *unix.Termios, cfg Config) {
	// cfmakeraw(3): bytes pass as they are, both ways.
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL |
		unix.IXON | unix.IXOFF | unix.IXANY | unix.INPCK
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB | unix.PARODD | unix.CSTOPB | unix.CRTSCTS |
		unix.CBAUD | unix.CBAUD<<unix.IBSHIFT // an input speed of 0 is the output's
	t.Cflag |= unix.CREAD | unix.CLOCAL | unix.BOTHER
	t.Cflag |= unix.CS8
	if cfg.DataBits == 7 {
		t.Cflag = t.Cflag&^unix.CSIZE | unix.CS7
	}
	switch cfg.Parity {
	case ParityEven:
		t.Cflag |= unix.PARENB
		t.Iflag |= unix.INPCK
	case ParityOdd:
		t.Cflag |= unix.PARENB | unix.PARODD
		t.Iflag |= unix.INPCK
	}
	if cfg.StopBits == 2 {
		t.Cflag |= unix.CSTOPB
	}
	t.Ispeed, t.Ospeed = uint32(cfg.Baud), uint32(cfg.Baud) // any rate: termios2's BOTHER
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
}
