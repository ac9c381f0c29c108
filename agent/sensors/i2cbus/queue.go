package i2cbus

import (
	"context"
	"slices"
	"sync"
)

// queue grants turns one at a time, in the order they were asked for.
// Unlike sync.Mutex it is FIFO and can be given up while waiting.
type queue struct {
	mu      sync.Mutex
	held    bool            // a turn is in progress
	waiters []chan struct{} // closed, and removed, when the turn is theirs; empty unless held
}

// acquire waits for a turn, or for ctx to end.
func (q *queue) acquire(ctx context.Context) error {
	q.mu.Lock()
	if !q.held {
		q.held = true
		q.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	q.waiters = append(q.waiters, ch)
	q.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		q.mu.Lock()
		if i := slices.Index(q.waiters, ch); i >= 0 {
			q.waiters = slices.Delete(q.waiters, i, i+1)
			q.mu.Unlock()
			return ctx.Err()
		}
		q.mu.Unlock()
		// The turn was handed over as ctx ended: pass it on.
		q.release()
		return ctx.Err()
	}
}

// release ends the turn in progress and hands it to the first waiter.
func (q *queue) release() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.waiters) == 0 {
		q.held = false
		return
	}
	close(q.waiters[0])
	q.waiters = slices.Delete(q.waiters, 0, 1)
}
