package serialport

import (
	"container/list"
	"context"
	"sync"
)

// turns is a FIFO lock: transactions hold the port one at a time, in the
// order they asked. A closed turns refuses new holders and fails the
// waiting ones with ErrClosed.
type turns struct {
	mu      sync.Mutex
	busy    bool
	closed  bool
	waiters list.List     // of chan error, buffered: nil is the turn, ErrClosed the end
	idle    chan struct{} // after close: closed when the holder releases
}

// acquire waits for the turn. It fails with ErrClosed once closed, or
// with ctx's cause if ctx ends first.
func (t *turns) acquire(ctx context.Context) error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return ErrClosed
	}
	if !t.busy {
		t.busy = true
		t.mu.Unlock()
		return nil
	}
	ch := make(chan error, 1)
	e := t.waiters.PushBack(ch)
	t.mu.Unlock()
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
	}
	t.mu.Lock()
	select {
	case err := <-ch: // handed over as ctx ended: pass it on
		t.mu.Unlock()
		if err == nil {
			t.release()
		}
	default:
		t.waiters.Remove(e)
		t.mu.Unlock()
	}
	return context.Cause(ctx)
}

// release hands the turn to the first waiter, if any.
func (t *turns) release() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.waiters.Front(); e != nil {
		t.waiters.Remove(e)
		e.Value.(chan error) <- nil
		return
	}
	t.busy = false
	if t.idle != nil {
		close(t.idle)
		t.idle = nil
	}
}

// close fails the waiters and future acquires with ErrClosed, then waits
// for the holder, if any, to release. Only its first call does that.
func (t *turns) close() (first bool) {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return false
	}
	t.closed = true
	for e := t.waiters.Front(); e != nil; e = t.waiters.Front() {
		t.waiters.Remove(e)
		e.Value.(chan error) <- ErrClosed
	}
	if !t.busy {
		t.mu.Unlock()
		return true
	}
	idle := make(chan struct{})
	t.idle = idle
	t.mu.Unlock()
	<-idle
	return true
}
