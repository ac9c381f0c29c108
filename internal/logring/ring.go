// Package logring keeps the agent's last log lines in memory, within a
// byte budget, for the getLogs method: a slog handler writes each record
// both to the agent's own handler and, as a JSON line, to the ring.
package logring

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"time"
)

// Ring holds the last log lines that fit in its budget; the oldest go
// first. Its methods are safe for concurrent use.
type Ring struct {
	mu      sync.Mutex
	budget  int
	lines   []line // oldest first, from head
	head    int
	bytes   int
	dropped uint64
	pending line // the record being written, its time and level
}

// line is one log record as a JSON object, without its newline.
type line struct {
	at    time.Time
	level slog.Level
	text  []byte
}

// lineOverhead is what a line costs the budget besides its text.
const lineOverhead = 48

// New returns a ring of budget bytes.
func New(budget int) *Ring { return &Ring{budget: budget} }

// Handler returns a handler that passes each record to next and keeps it
// in the ring as a JSON line, at level and above (the agent's level).
func (r *Ring) Handler(next slog.Handler, level slog.Leveler) slog.Handler {
	return &tee{next: next, ring: r, json: slog.NewJSONHandler(ringWriter{r}, &slog.HandlerOptions{Level: level})}
}

// tee is the handler of Ring.Handler.
type tee struct {
	next slog.Handler
	ring *Ring
	json slog.Handler // writes to the ring
}

func (t *tee) Enabled(ctx context.Context, l slog.Level) bool {
	return t.next.Enabled(ctx, l) || t.json.Enabled(ctx, l)
}

func (t *tee) Handle(ctx context.Context, rec slog.Record) error {
	var err error
	if t.next.Enabled(ctx, rec.Level) {
		err = t.next.Handle(ctx, rec)
	}
	if t.json.Enabled(ctx, rec.Level) {
		t.ring.mu.Lock()
		t.ring.pending = line{at: rec.Time, level: rec.Level}
		_ = t.json.Handle(ctx, rec) // into memory: it cannot fail
		t.ring.mu.Unlock()
	}
	return err
}

func (t *tee) WithAttrs(as []slog.Attr) slog.Handler {
	return &tee{next: t.next.WithAttrs(as), ring: t.ring, json: t.json.WithAttrs(as)}
}

func (t *tee) WithGroup(name string) slog.Handler {
	return &tee{next: t.next.WithGroup(name), ring: t.ring, json: t.json.WithGroup(name)}
}

// ringWriter takes the JSON handler's line into the ring; Handle holds
// the ring's lock.
type ringWriter struct{ r *Ring }

func (w ringWriter) Write(p []byte) (int, error) {
	l := w.r.pending
	l.text = bytes.Clone(bytes.TrimRight(p, "\n"))
	w.r.add(l)
	return len(p), nil
}

// add keeps l, dropping the oldest lines until it fits; a line larger
// than the whole budget is dropped itself.
func (r *Ring) add(l line) {
	cost := len(l.text) + lineOverhead
	if cost > r.budget {
		r.dropped++
		return
	}
	for r.bytes+cost > r.budget {
		old := r.lines[r.head]
		r.lines[r.head] = line{}
		r.head++
		r.bytes -= len(old.text) + lineOverhead
		r.dropped++
	}
	if r.head > 0 && r.head >= len(r.lines)/2 { // reuse the front
		n := copy(r.lines, r.lines[r.head:])
		clear(r.lines[n:])
		r.lines, r.head = r.lines[:n], 0
	}
	r.lines = append(r.lines, l)
	r.bytes += cost
}

// Query picks lines: those at MinLevel and above, from Since on, the
// last Last of them (all when Last is 0).
type Query struct {
	Last     int
	Since    time.Time
	MinLevel slog.Level
}

// Lines are what a Query found.
type Lines struct {
	// Lines are the JSON lines, oldest first.
	Lines [][]byte
	// Matched is how many lines the ring holds that match, Lines being
	// the last of them.
	Matched int
	// Oldest is the time of the oldest line the ring holds; zero when it
	// holds none.
	Oldest time.Time
	// Dropped is how many lines the ring has let go, to keep within its
	// budget, since it was made.
	Dropped uint64
	// Budget is the ring's size in bytes.
	Budget int
}

// Lines returns the lines q picks.
func (r *Ring) Lines(q Query) Lines {
	r.mu.Lock()
	defer r.mu.Unlock()
	kept := r.lines[r.head:]
	out := Lines{Dropped: r.dropped, Budget: r.budget}
	if len(kept) > 0 {
		out.Oldest = kept[0].at
	}
	var match []int
	for i, l := range kept {
		if l.level >= q.MinLevel && !l.at.Before(q.Since) {
			match = append(match, i)
		}
	}
	out.Matched = len(match)
	if q.Last > 0 && len(match) > q.Last {
		match = match[len(match)-q.Last:]
	}
	out.Lines = make([][]byte, len(match))
	for i, j := range match {
		out.Lines[i] = kept[j].text // never changed once kept
	}
	return out
}
