package mqtt

import "sync"

// settler hands the responses to settle on its own goroutine, in the
// order they came, as many at a time as have come: the connection's
// reader goes on reading meanwhile.
type settler struct {
	mu      sync.Mutex
	pending []response
	spare   []response
	bell    chan struct{} // has a token when pending has responses
	done    chan struct{} // closed by close: settle what is pending and end
	ended   chan struct{} // closed when the goroutine ends
}

// queue adds responses to settle.
func (t *settler) queue(rs []response) {
	if len(rs) == 0 {
		return
	}
	t.mu.Lock()
	t.pending = append(t.pending, rs...)
	t.mu.Unlock()
	select {
	case t.bell <- struct{}{}:
	default:
	}
}

// run settles what is queued, by settle, until close.
func (t *settler) run(settle func([]response)) {
	defer close(t.ended)
	for {
		select {
		case <-t.bell:
		case <-t.done:
			t.settleQueued(settle)
			return
		}
		t.settleQueued(settle)
	}
}

func (t *settler) settleQueued(settle func([]response)) {
	t.mu.Lock()
	rs := t.pending
	t.pending = t.spare[:0]
	t.mu.Unlock()
	if len(rs) > 0 {
		settle(rs)
	}
	clear(rs) // let the entries' memory go
	t.mu.Lock()
	t.spare = rs[:0]
	t.mu.Unlock()
}

// close settles what is queued and stops the goroutine.
func (t *settler) close() {
	close(t.done)
	<-t.ended
}
