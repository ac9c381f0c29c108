package serialport

import (
	"time"

	"github.com/iot-hub/agent/internal/clock"
	"github.com/iot-hub/agent/internal/lograte"
)

// SetClock makes p, and its log lines' pace, use clk and backoff instead
// of the system's clock and the jittered backoff. Call it before p's
// first Do.
func SetClock(p *Port, clk clock.Clock, backoff func(attempt int) time.Duration) {
	p.clock, p.backoff = clk, backoff
	p.lines = lograte.New(p.cfg.Logger, lograte.Config{Clock: clk})
}

// Waiting returns how many transactions wait for their turn.
func Waiting(p *Port) int {
	p.turns.mu.Lock()
	defer p.turns.mu.Unlock()
	return p.turns.waiters.Len()
}

// Backoff is the jittered backoff.
var Backoff = reopenBackoff
