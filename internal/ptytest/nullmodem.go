package ptytest

import (
	"errors"
	"io"
	"sync"
	"testing"
)

// NullModem is two ttys connected as by a null-modem cable: what a program
// writes to the tty at [NullModem.PathA] is read from the tty at
// [NullModem.PathB], and the other way round. Two goroutines copy between
// the two pairs' masters until [NullModem.Close].
type NullModem struct {
	a, b *Pair
	wg   sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
}

// NewNullModem makes a null modem and registers its Close with
// tb.Cleanup.
func NewNullModem(tb testing.TB) *NullModem {
	tb.Helper()
	a, err := openPair()
	if err != nil {
		tb.Fatalf("ptytest: %v", err)
	}
	b, err := openPair()
	if err != nil {
		a.Close()
		tb.Fatalf("ptytest: %v", err)
	}
	m := &NullModem{a: a, b: b}
	m.wg.Go(func() { bridge(b, a) })
	m.wg.Go(func() { bridge(a, b) })
	tb.Cleanup(func() { m.Close() })
	return m
}

// bridge copies what is written to src's tty to dst's tty, until either
// pair is closed.
func bridge(dst, src *Pair) {
	_, _ = io.Copy(dst, src) // a close ends it; nothing else does
}

// PathA returns one end's tty.
func (m *NullModem) PathA() string { return m.a.Path() }

// PathB returns the other end's tty.
func (m *NullModem) PathB() string { return m.b.Path() }

// Close cuts the cable: it closes both pairs, which hangs both ttys up,
// and returns once the copying goroutines have ended.
// Calling it again does nothing.
func (m *NullModem) Close() error {
	m.closeOnce.Do(func() {
		m.closeErr = errors.Join(m.a.Close(), m.b.Close())
		m.wg.Wait()
	})
	return m.closeErr
}
