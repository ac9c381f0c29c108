package serialport

import "time"

// SetClock makes p use now and backoff instead of the wall clock and the
// jittered backoff. Call it before p's first Do.
func SetClock(p *Port, now func() time.Time, backoff func(attempt int) time.Duration) {
	p.now, p.backoff = now, backoff
}

// Waiting returns how many transactions wait for their turn.
func Waiting(p *Port) int {
	p.turns.mu.Lock()
	defer p.turns.mu.Unlock()
	return p.turns.waiters.Len()
}

// Backoff is the jittered backoff.
var Backoff = reopenBackoff
