package modbustest

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Conn is the device side of a serial line: a ptytest.Pair, whose
// master it reads and writes. SetReadDeadline lets the line stop
// reading when the test ends.
type Conn interface {
	io.ReadWriter
	SetReadDeadline(t time.Time) error
}

// requestLen is the length of a request of function 3 or 4.
const requestLen = 8

// Line is a simulated RS-485 line: the slaves on it, and the witness of
// every frame. Its methods are safe for concurrent use.
type Line struct {
	tb  testing.TB
	gap time.Duration

	mu        sync.Mutex
	slaves    map[uint8]*Slave
	requests  []Request
	onRequest func(Request)
	conns     []Conn
	stopping  bool
	wg        sync.WaitGroup
	received  atomic.Int64 // bytes read, for this package's tests
}

// NewLine returns a line at baud (for the inter-frame gap it checks),
// with no slave on it. The test's cleanup stops its serving.
func NewLine(tb testing.TB, baud int) *Line {
	l := &Line{tb: tb, gap: frameGap(baud), slaves: make(map[uint8]*Slave)}
	tb.Cleanup(l.stop)
	return l
}

// Gap returns t3.5, the least silence the line requires between frames.
func (l *Line) Gap() time.Duration { return l.gap }

// Slave returns the slave of address id, putting it on the line, with
// empty tables, the first time.
func (l *Line) Slave(id uint8) *Slave {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.slaves[id]
	if !ok {
		s = &Slave{line: l, id: id}
		l.slaves[id] = s
	}
	return s
}

// Requests returns the requests read so far, in order.
func (l *Line) Requests() []Request {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Request(nil), l.requests...)
}

// OnRequest makes the line call fn with every request it reads, after
// recording it and before answering it, from its serving goroutine: fn
// may block the answer, or signal the test. nil removes it.
func (l *Line) OnRequest(fn func(Request)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.onRequest = fn
}

// Serve serves the line on c from a new goroutine, until reading c
// fails with os.ErrClosed (a ptytest.Pair closed: an unplug) or the test
// ends. Call it again with the new pair after a replug. Other read or
// write errors fail the test.
func (l *Line) Serve(c Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopping {
		return
	}
	l.conns = append(l.conns, c)
	l.wg.Go(func() { l.serve(c) })
}

// stop ends the serving and waits for it.
func (l *Line) stop() {
	l.mu.Lock()
	l.stopping = true
	for _, c := range l.conns {
		c.SetReadDeadline(time.Now()) // a closed pair's error: it is not read either
	}
	l.mu.Unlock()
	l.wg.Wait()
}

// serve reads c, frames requests and answers them.
func (l *Line) serve(c Conn) {
	w := witness{line: l, c: c}
	buf := make([]byte, 256)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			w.bytes(buf[:n], time.Now())
			l.received.Add(int64(n))
		}
		if err != nil {
			l.mu.Lock()
			stopping := l.stopping
			l.mu.Unlock()
			if !stopping && !errors.Is(err, os.ErrClosed) {
				l.tb.Errorf("modbustest: read: %v", err)
			}
			return
		}
	}
}

// witness is one serving goroutine's view of the wire.
type witness struct {
	line     *Line
	c        Conn
	frame    []byte    // the request being read
	last     time.Time // when the last byte was read
	frameEnd time.Time // when the previous frame ended; zero before the first
	dropping bool      // after a malformed request, until a pause
}

// bytes takes the bytes b, read at t.
func (w *witness) bytes(b []byte, t time.Time) {
	l := w.line
	pause := !w.last.IsZero() && t.Sub(w.last) >= l.gap
	w.last = t
	if w.dropping && !pause {
		return
	}
	w.dropping = false
	if len(w.frame) > 0 && pause {
		l.tb.Errorf("modbustest: a request of %d bytes % X, then a pause: want %d bytes", len(w.frame), w.frame, requestLen)
		w.frame = nil
	}
	for i, c := range b {
		if len(w.frame) == 0 && !w.frameEnd.IsZero() {
			if gap := t.Sub(w.frameEnd); gap < l.gap {
				l.tb.Errorf("modbustest: a request began %v after the previous frame ended; t3.5 is %v (bytes % X)", gap, l.gap, b[i:])
				w.dropping = true
				return
			}
		}
		w.frame = append(w.frame, c)
		if len(w.frame) == requestLen {
			req := w.frame
			w.frame = nil
			w.frameEnd = t
			if !w.request(req) {
				w.dropping = true
				return
			}
		}
	}
}

// request checks a request and answers it; it reports whether the
// request was well formed.
func (w *witness) request(b []byte) bool {
	l := w.line
	q := Request{Slave: b[0], Function: b[1], Address: binary.BigEndian.Uint16(b[2:]), Count: binary.BigEndian.Uint16(b[4:])}
	switch {
	case CRC(b[:6]) != binary.LittleEndian.Uint16(b[6:]):
		l.tb.Errorf("modbustest: request % X: CRC %04X; want %04X", b, binary.LittleEndian.Uint16(b[6:]), CRC(b[:6]))
		return false
	case q.Slave == 0 || q.Slave > 247:
		l.tb.Errorf("modbustest: request % X: slave %d is outside 1..247", b, q.Slave)
		return false
	case q.Function != 3 && q.Function != 4:
		l.tb.Errorf("modbustest: request % X: function %d; want 3 or 4", b, q.Function)
		return false
	case q.Count < 1 || q.Count > 125 || int(q.Address)+int(q.Count) > 1<<16:
		l.tb.Errorf("modbustest: request % X: %d registers from %d", b, q.Count, q.Address)
		return false
	}
	l.mu.Lock()
	var ans []byte
	if s := l.slaves[q.Slave]; s != nil {
		ans, q.Answer = s.answer(q.Function, q.Address, q.Count)
	}
	l.requests = append(l.requests, q)
	hook := l.onRequest
	l.mu.Unlock()
	if hook != nil {
		hook(q)
	}
	if len(ans) == 0 {
		return true
	}
	w.frameEnd = time.Now() // before the write: the bytes cannot be on the line sooner
	if _, err := w.c.Write(ans); err != nil && !errors.Is(err, os.ErrClosed) {
		l.tb.Errorf("modbustest: write answer: %v", err)
	}
	return true
}

// frameGap is t3.5 at baud: 3.5 characters of 11 bits up to 19200 baud,
// 1750 µs above (Modbus over serial line v1.02, §2.5.1.1).
func frameGap(baud int) time.Duration {
	if baud <= 0 || baud > 19200 {
		return 1750 * time.Microsecond
	}
	return time.Duration(3.5 * 11 * float64(time.Second) / float64(baud))
}
