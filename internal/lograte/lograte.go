package lograte

import (
	"sync"
	"time"

	"github.com/iot-hub/agent/internal/clock"
)

// SuppressedKey is the attribute of a line that follows suppressed ones:
// how many lines of its key were not written since the last one that was.
const SuppressedKey = "suppressed"

// DefaultInterval is the default [Config.Interval].
const DefaultInterval = time.Minute

// Config configures a [Limiter]. Zero values mean the defaults.
type Config struct {
	// Interval is the window: per key, a window opens with the first line
	// written after the previous window ended. Default DefaultInterval.
	Interval time.Duration
	// Burst is how many lines per key a window writes; the others are
	// suppressed and counted. Default 1.
	Burst int
	// Clock is the time windows are kept by. Default clock.System.
	Clock clock.Clock
}

func (c Config) withDefaults() Config {
	if c.Interval <= 0 {
		c.Interval = DefaultInterval
	}
	if c.Burst <= 0 {
		c.Burst = 1
	}
	c.Clock = clock.Or(c.Clock)
	return c
}

// Limiter decides, per key, which lines are written and counts the
// others. Its methods are safe for concurrent use.
type Limiter struct {
	cfg Config

	mu   sync.Mutex
	keys map[string]*window
}

// window is one key's state.
type window struct {
	start      time.Time // when the window opened
	written    int       // lines written in the window
	suppressed int       // lines suppressed since the last one written
}

// NewLimiter returns a Limiter; see [Config] for the defaults.
func NewLimiter(cfg Config) *Limiter {
	return &Limiter{cfg: cfg.withDefaults(), keys: make(map[string]*window)}
}

// Allow reports whether a line of key may be written now and, when it
// may, how many lines of key were suppressed since the last one written.
// A line it refuses is counted as suppressed.
func (l *Limiter) Allow(key string) (suppressed int, ok bool) {
	now := l.cfg.Clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.keys[key]
	if w == nil {
		w = &window{}
		l.keys[key] = w
	}
	if since := now.Sub(w.start); w.written == 0 || since < 0 || since >= l.cfg.Interval {
		w.start, w.written = now, 0
	}
	if w.written >= l.cfg.Burst {
		w.suppressed++
		return 0, false
	}
	w.written++
	suppressed, w.suppressed = w.suppressed, 0
	return suppressed, true
}

// Reset forgets key, so that its next line is written at once, and
// returns how many of its lines were suppressed since the last one
// written: a caller that ends a run of lines (a sensor that recovered)
// reports them with the line that says so.
func (l *Limiter) Reset(key string) (suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if w := l.keys[key]; w != nil {
		suppressed = w.suppressed
		delete(l.keys, key)
	}
	return suppressed
}
