package serialport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"
)

// Conn is the open port as one transaction sees it, valid until the
// transaction's function returns; afterwards its methods fail with
// ErrClosed. It is for that function's goroutine only.
//
// Any error of Read, Write, ResetInputBuffer or Drain other than a timeout
// or the transaction's ctx ending wraps ErrPortLost.
type Conn interface {
	// Read reads at least one byte, waiting at most the read timeout and
	// never past the deadline of the transaction's ctx. It returns
	// (0, an error wrapping ErrTimeout) when the read timeout passes with
	// nothing read, and (0, ctx's cause) when ctx ends first.
	Read(b []byte) (int, error)
	// Write writes all of b. It blocks until the kernel has taken it,
	// which a UART without flow control always does in len(b) character
	// times; it does not stop at ctx's end.
	Write(b []byte) (int, error)
	// SetReadTimeout sets how long a Read waits for a first byte: d > 0
	// waits at most d, 0 takes what is there without waiting, d < 0 (the
	// default) waits until ctx ends.
	SetReadTimeout(d time.Duration) error
	// ResetInputBuffer discards input not read yet: noise, late answers.
	ResetInputBuffer() error
	// Drain waits until the bytes written have left the UART.
	Drain() error
	// LastByte is when a byte last went over the port, either way, as
	// this side saw it: the return of the last Read that got bytes, Write
	// or Drain, in any transaction; zero before the first. A protocol
	// that needs silence between frames (Modbus RTU's 3.5 characters)
	// waits from it.
	LastByte() time.Time
}

// errHangup is what a read of a hung-up tty (a pulled adapter, a closed
// pty) means when it returns end of file.
var errHangup = errors.New("device hung up (end of file)")

// conn is a Conn of one transaction.
type conn struct {
	p       *Port
	dev     device
	ctx     context.Context
	timeout time.Duration // < 0: none
	ended   bool
	lost    error // the first ErrPortLost failure
}

var _ Conn = (*conn)(nil)

// end invalidates c; it returns the error that lost the port, if any.
func (c *conn) end() error {
	c.ended = true
	return c.lost
}

// usable fails once the transaction has ended or the port was lost.
func (c *conn) usable(op string) error {
	switch {
	case c.ended:
		return fmt.Errorf("serialport: %s %s: transaction over: %w", op, c.p.cfg.Path, ErrClosed)
	case c.lost != nil:
		return c.lost
	}
	return nil
}

// fail records err, of op, as losing the port and returns it wrapped.
func (c *conn) fail(op string, err error) error {
	if errors.Is(err, io.EOF) {
		err = errHangup
	}
	c.lost = fmt.Errorf("serialport: %s %s: %w: %w", op, c.p.cfg.Path, ErrPortLost, err)
	return c.lost
}

// Read waits until the earlier of the read timeout and ctx's deadline.
// ctx's end moves the device's read deadline to the past (see
// Port.Do), which ends a Read waiting; a Read that begins after it sees
// ctx's error first.
func (c *conn) Read(b []byte) (int, error) {
	if err := c.usable("read"); err != nil {
		return 0, err
	}
	if len(b) == 0 {
		return 0, nil
	}
	if c.timeout == 0 {
		return c.readWaiting(b)
	}
	var deadline time.Time
	if c.timeout > 0 {
		deadline = time.Now().Add(c.timeout)
	}
	ctxDeadline, hasDeadline := c.ctx.Deadline()
	if hasDeadline && (deadline.IsZero() || ctxDeadline.Before(deadline)) {
		deadline = ctxDeadline
	}
	if err := c.dev.SetReadDeadline(deadline); err != nil {
		return 0, c.fail("read", err)
	}
	if c.ctx.Err() != nil { // after the deadline is set: see above
		return 0, context.Cause(c.ctx)
	}
	n, err := c.dev.Read(b)
	switch {
	case n > 0:
		c.p.lastByte = time.Now()
		return n, nil
	case errors.Is(err, os.ErrDeadlineExceeded):
		if c.ctx.Err() != nil {
			return 0, context.Cause(c.ctx)
		}
		if hasDeadline && !time.Now().Before(ctxDeadline) {
			return 0, context.DeadlineExceeded // the ctx's timer has not fired yet
		}
		return 0, fmt.Errorf("serialport: read %s: %w after %v", c.p.cfg.Path, ErrTimeout, c.timeout)
	case err == nil:
		err = io.EOF
	}
	return 0, c.fail("read", err)
}

// readWaiting is Read with no wait: it reads what the input holds.
func (c *conn) readWaiting(b []byte) (int, error) {
	if c.ctx.Err() != nil {
		return 0, context.Cause(c.ctx)
	}
	n, err := c.dev.ReadWaiting(b)
	switch {
	case err != nil:
		return 0, c.fail("read", err)
	case n == 0:
		return 0, fmt.Errorf("serialport: read %s: %w after %v", c.p.cfg.Path, ErrTimeout, c.timeout)
	}
	c.p.lastByte = time.Now()
	return n, nil
}

func (c *conn) Write(b []byte) (int, error) {
	if err := c.usable("write"); err != nil {
		return 0, err
	}
	written := 0
	for written < len(b) {
		n, err := c.dev.Write(b[written:])
		written += n
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return written, c.fail("write", err)
		}
		if n == 0 {
			return written, c.fail("write", errors.New("wrote nothing"))
		}
	}
	c.p.lastByte = time.Now()
	return written, nil
}

func (c *conn) SetReadTimeout(d time.Duration) error {
	if err := c.usable("set read timeout"); err != nil {
		return err
	}
	c.timeout = max(d, -1)
	return nil
}

func (c *conn) ResetInputBuffer() error {
	if err := c.usable("reset input"); err != nil {
		return err
	}
	if err := retryInterrupted(c.dev.DropWaiting); err != nil {
		return c.fail("reset input", err)
	}
	return nil
}

func (c *conn) Drain() error {
	if err := c.usable("drain"); err != nil {
		return err
	}
	if err := retryInterrupted(c.dev.Drain); err != nil {
		return c.fail("drain", err)
	}
	c.p.lastByte = time.Now()
	return nil
}

func (c *conn) LastByte() time.Time { return c.p.lastByte }

// retryInterrupted calls op again while it fails with EINTR: a tracer
// attaching to the agent (strace -p) interrupts tcdrain, whose error
// an ioctl passes on; the port is not lost.
func retryInterrupted(op func() error) error {
	for {
		if err := op(); !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}
