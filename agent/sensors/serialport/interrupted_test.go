package serialport

import (
	"context"
	"syscall"
	"testing"
)

// interrupting is a device whose Drain and DropWaiting fail with EINTR
// the first time each is called, as an ioctl does when a tracer (strace
// -p) attaches during the system call.
type interrupting struct {
	device  // nil: the other methods are not called
	calls   map[string]int
	written []byte
}

func (p *interrupting) interrupted(op string) bool {
	p.calls[op]++
	return p.calls[op] == 1
}

func (p *interrupting) Write(b []byte) (int, error) {
	p.written = append(p.written, b...)
	return len(b), nil
}

func (p *interrupting) Drain() error {
	if p.interrupted("drain") {
		return syscall.EINTR
	}
	return nil
}

func (p *interrupting) DropWaiting() error {
	if p.interrupted("reset") {
		return syscall.EINTR
	}
	return nil
}

// TestInterruptedCallsAreRetried: a system call interrupted by a signal
// is made again, and the port is not taken for lost.
func TestInterruptedCallsAreRetried(t *testing.T) {
	sp := &interrupting{calls: map[string]int{}}
	c := &conn{p: &Port{}, dev: sp, ctx: context.Background(), timeout: -1}
	if err := c.ResetInputBuffer(); err != nil {
		t.Fatalf("ResetInputBuffer: %v", err)
	}
	if n, err := c.Write([]byte{1, 3, 0, 0, 0, 2}); err != nil || n != 6 {
		t.Fatalf("Write = %d, %v; want 6, nil", n, err)
	}
	if err := c.Drain(); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	if c.lost != nil {
		t.Fatalf("the port was taken for lost: %v", c.lost)
	}
	if string(sp.written) != "\x01\x03\x00\x00\x00\x02" {
		t.Errorf("written % x; want 01 03 00 00 00 02", sp.written)
	}
	for _, op := range []string{"reset", "drain"} {
		if sp.calls[op] != 2 {
			t.Errorf("%s called %d times; want 2 (interrupted, then done)", op, sp.calls[op])
		}
	}
}
