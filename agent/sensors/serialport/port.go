package serialport

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/iot-hub/agent/internal/clock"
	"github.com/iot-hub/agent/internal/lograte"
)

// Port is one serial port shared by the sensors on it. Every transaction
// goes through [Port.Do], one at a time in the order they asked, so that
// two never interleave on the wire. Port opens the device when a
// transaction needs it, closes it when it is lost, and opens it again for
// a later transaction once it is back. It is safe for concurrent use; the
// one who made it closes it.
type Port struct {
	cfg     Config
	backoff func(attempt int) time.Duration
	clock   clock.Clock
	lines   *lograte.Logger // a device that comes and goes: a line a minute per kind

	turns   turns
	closing context.Context // done once Close begins
	stop    context.CancelFunc
	gen     atomic.Uint64

	// Only the turn's holder touches these.
	dev      device    // nil while closed
	target   string    // the device dev is, the symlink resolved
	failures int       // failed opens in a row
	lastErr  error     // of the last failed open
	next     time.Time // earliest next open after a failure
	down     time.Time // when the port was lost, or the first failed open; zero while fine
	lastByte time.Time // see Conn.LastByte
}

// New returns a port configured by cfg, its zero values the defaults,
// still closed: the first [Port.Do] opens it. It fails if cfg is invalid.
func New(cfg Config) (*Port, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	p := &Port{cfg: cfg, backoff: reopenBackoff(cfg.ReopenMin, cfg.ReopenMax), clock: clock.System}
	p.lines = lograte.New(cfg.Logger, lograte.Config{Clock: p.clock})
	p.closing, p.stop = context.WithCancel(context.Background())
	return p, nil
}

// Config returns the port's configuration, the defaults applied.
func (p *Port) Config() Config { return p.cfg }

// Generation counts the port's opens: a transaction that sees it changed
// since its previous one knows the device was reopened (and bytes may
// have been lost in between). It is 0 before the first open.
func (p *Port) Generation() uint64 { return p.gen.Load() }

// Do runs fn alone on the port: it waits for its turn (first come, first
// served), opens the port if it is closed, and calls fn with a [Conn] valid
// until fn returns. fn's ctx is ctx, also cancelled with cause ErrClosed
// when the port is closed; reads through the Conn never wait past its
// deadline. Do returns fn's error as it is.
//
// Do fails without calling fn: with ctx's cause, naming the port, if ctx
// ends before the turn comes; with ErrClosed once the port is closed; with
// an [*OpenError] if the port cannot be opened. After a failed open, Do
// does not try again before the backoff has passed, but fails at once with
// an *OpenError that says when the next attempt is.
//
// If fn's error wraps ErrPortLost, or a Conn operation failed with it,
// Do closes the device so that the next transaction reopens it.
func (p *Port) Do(ctx context.Context, fn func(ctx context.Context, c Conn) error) error {
	if err := p.turns.acquire(ctx); err != nil {
		if errors.Is(err, ErrClosed) {
			return fmt.Errorf("serialport: %s: %w", p.cfg.Path, err)
		}
		return fmt.Errorf("serialport: %s: waiting for the turn: %w", p.cfg.Path, err)
	}
	defer p.turns.release()
	if p.closing.Err() != nil {
		return fmt.Errorf("serialport: %s: %w", p.cfg.Path, ErrClosed)
	}
	if p.dev == nil {
		if err := p.open(); err != nil {
			return err
		}
	}
	fctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(p.closing, func() { cancel(ErrClosed) })
	defer stop()
	// ctx's end ends a Read waiting; and is done with before the next
	// transaction's reads.
	dev, interrupted := p.dev, make(chan struct{})
	interrupt := context.AfterFunc(fctx, func() {
		defer close(interrupted)
		_ = dev.SetReadDeadline(time.Unix(1, 0))
	})
	defer func() {
		if !interrupt() {
			<-interrupted
		}
	}()
	c := &conn{p: p, dev: dev, ctx: fctx, timeout: -1}
	err := fn(fctx, c)
	lost := c.end()
	if lost == nil && errors.Is(err, ErrPortLost) {
		lost = err
	}
	if lost != nil {
		p.lose(lost)
	}
	return err
}

// open opens the device, unless the backoff after a failed attempt has
// not passed yet. The turn's holder calls it.
func (p *Port) open() error {
	now := p.clock.Now()
	if p.failures > 0 && now.Before(p.next) {
		return &OpenError{Path: p.cfg.Path, Err: p.lastErr, Attempts: p.failures, Next: p.next, now: now}
	}
	target, err := filepath.EvalSymlinks(p.cfg.Path)
	if err != nil {
		target = p.cfg.Path
	}
	dev, err := openTTY(p.cfg)
	if err == nil {
		// Input from before the open is stale: a late answer, line noise.
		if err = retryInterrupted(dev.FlushInput); err != nil {
			dev.Close()
		}
	}
	if err != nil {
		p.failures++
		p.lastErr = err
		p.next = now.Add(p.backoff(p.failures))
		if p.down.IsZero() {
			p.down = now
			p.lines.Warn("unavailable", "serial port unavailable", "port", p.cfg.Path, "err", err, "retryIn", p.next.Sub(now).Round(time.Millisecond))
		}
		return &OpenError{Path: p.cfg.Path, Err: err, Attempts: p.failures, Next: p.next, now: now}
	}
	if !p.down.IsZero() && p.gen.Load() > 0 { // opened before: a reopening
		p.lines.Info("reopened", "serial port reopened", "port", p.cfg.Path, "device", target,
			"down", now.Sub(p.down).Round(time.Millisecond), "failedAttempts", p.failures)
	} else if !p.down.IsZero() {
		p.cfg.Logger.Info("serial port opened", "port", p.cfg.Path, "device", target, "failedAttempts", p.failures)
	}
	p.dev, p.target = dev, target
	p.failures, p.lastErr, p.down = 0, nil, time.Time{}
	p.gen.Add(1)
	return nil
}

// lose closes the device after err, a lost port. The turn's holder calls
// it.
func (p *Port) lose(err error) {
	p.lines.Warn("lost", "serial port lost", "port", p.cfg.Path, "device", p.target, "err", err)
	p.dev.Close() // the device is gone: its error says nothing more
	p.dev, p.target = nil, ""
	p.down = p.clock.Now()
}

// Close closes the port: transactions waiting for their turn fail with
// ErrClosed, the one in progress has its ctx cancelled (cause ErrClosed)
// and Close waits for it to return, then closes the device. Later Do calls
// fail with ErrClosed; calling Close again does nothing.
func (p *Port) Close() error {
	p.stop()
	if !p.turns.close() {
		return nil
	}
	if p.dev == nil {
		return nil
	}
	err := p.dev.Close()
	p.dev = nil
	if err != nil {
		return fmt.Errorf("serialport: close %s: %w", p.cfg.Path, err)
	}
	return nil
}
