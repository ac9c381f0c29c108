package kafka

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/iot-hub/agent/internal/backoff"
	"github.com/iot-hub/agent/internal/lograte"
)

// cursorEvery is the least time between two writes of the cursors: each
// is a commit of the outbox (an fsync), and records of other devices move
// them all the time. A cursor stored late only makes a restart read again
// commands already answered, which the RPC de-duplication answers again
// from its memo without running them.
const cursorEvery = time.Second

// cursorName is the name of partition p's cursor in the outbox.
func cursorName(topic string, p int32) string {
	return "kafka/" + topic + "/" + strconv.Itoa(int(p))
}

// encodeCursor and decodeCursor convert a cursor's value, the offset of
// the next record to read, in decimal.
func encodeCursor(offset int64) []byte { return strconv.AppendInt(nil, offset, 10) }

func decodeCursor(v []byte) (int64, error) {
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("cursor value %q is not an offset", v)
	}
	return n, nil
}

// tracker follows the records read from one partition, to know the
// offset to resume from: the first command read and not yet
// acknowledged, or with none, the offset after the last record read
// (records of other devices are handled as soon as they are read).
// Acknowledgements come in any order, as commands run concurrently.
type tracker struct {
	name    string
	changed func() // tells the writer the cursor may have moved

	mu      sync.Mutex
	next    int64   // offset after the last record read; -1 before the first when unknown
	pending []*slot // commands read, oldest first, acknowledged ones at the head removed
	open    int     // commands read and not acknowledged

	stored int64 // the value stored last; only the writer uses it
}

// slot is one command read.
type slot struct {
	offset int64
	done   bool
}

func newTracker(name string, next int64, changed func()) *tracker {
	return &tracker{name: name, next: next, stored: next, changed: changed}
}

// skip records a record read and handled at once.
func (t *tracker) skip(offset int64) {
	t.mu.Lock()
	t.next = offset + 1
	t.mu.Unlock()
	t.changed()
}

// read records a command read and returns the function that
// acknowledges it; calling that more than once does nothing more.
func (t *tracker) read(offset int64) func() {
	s := &slot{offset: offset}
	t.mu.Lock()
	t.next = offset + 1
	t.pending = append(t.pending, s)
	t.open++
	t.mu.Unlock()
	return func() { t.ack(s) }
}

func (t *tracker) ack(s *slot) {
	t.mu.Lock()
	if s.done {
		t.mu.Unlock()
		return
	}
	s.done = true
	t.open--
	n := 0
	for n < len(t.pending) && t.pending[n].done {
		n++
	}
	t.pending = t.pending[n:]
	t.mu.Unlock()
	t.changed()
}

// cursor returns the offset to resume from, and false when it is not
// known yet.
func (t *tracker) cursor() (int64, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.pending) > 0 {
		return t.pending[0].offset, true
	}
	return t.next, t.next >= 0
}

// unacked returns how many commands wait for their Ack.
func (t *tracker) unacked() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.open
}

// cursorWriter stores the trackers' cursors in the outbox when they
// move, at most once every cursorEvery.
type cursorWriter struct {
	box   Outbox
	lines *lograte.Logger
	kick  chan struct{}

	mu       sync.Mutex
	trackers []*tracker
}

func newCursorWriter(box Outbox, lines *lograte.Logger) *cursorWriter {
	return &cursorWriter{box: box, lines: lines, kick: make(chan struct{}, 1)}
}

// changed wakes the writer.
func (w *cursorWriter) changed() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// add makes the writer store t's cursor.
func (w *cursorWriter) add(t *tracker) {
	w.mu.Lock()
	w.trackers = append(w.trackers, t)
	w.mu.Unlock()
}

// run stores the cursors as they move until ctx ends. The caller stores
// them once more after that (flush), with a context of its own.
func (w *cursorWriter) run(ctx context.Context) {
	for {
		select {
		case <-w.kick:
		case <-ctx.Done():
			return
		}
		w.flush(ctx)
		if !backoff.Sleep(ctx, cursorEvery) {
			return
		}
	}
}

// flush stores the cursors that moved; it reports whether all are stored.
func (w *cursorWriter) flush(ctx context.Context) bool {
	w.mu.Lock()
	ts := append([]*tracker(nil), w.trackers...)
	w.mu.Unlock()
	ok := true
	for _, t := range ts {
		v, known := t.cursor()
		if !known || v == t.stored {
			continue
		}
		if err := w.box.PutCursor(ctx, t.name, encodeCursor(v)); err != nil {
			if ctx.Err() == nil {
				w.lines.Error("store cursor", "kafka: store the commands cursor; commands after it may be read again", "cursor", t.name, "err", err)
			}
			ok = false
			continue
		}
		t.stored = v
	}
	return ok
}
