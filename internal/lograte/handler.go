package lograte

import (
	"context"
	"log/slog"
)

// Handler is a slog.Handler that passes records on to another, limited
// per key by a [Limiter]: for the records of a library, whose calls
// cannot name a key. A record passed on after suppressed ones carries
// [SuppressedKey] and their count (inside the groups opened by
// WithGroup, as the record's other attributes). Handlers derived by
// WithAttrs and WithGroup share the limits.
type Handler struct {
	next slog.Handler
	lim  *Limiter
	key  func(slog.Record) string
}

var _ slog.Handler = (*Handler)(nil)

// NewHandler returns a Handler passing records on to next, limited as
// cfg says per key(record); key must draw from a small fixed set, the
// record's level and message say, not from its attributes' text.
func NewHandler(next slog.Handler, cfg Config, key func(slog.Record) string) *Handler {
	return &Handler{next: next, lim: NewLimiter(cfg), key: key}
}

// Enabled reports whether the next handler takes records of level l.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

// Handle passes r on unless its key's limit suppresses it.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	n, ok := h.lim.Allow(h.key(r))
	if !ok {
		return nil
	}
	if n > 0 {
		r = r.Clone()
		r.AddAttrs(slog.Int(SuppressedKey, n))
	}
	return h.next.Handle(ctx, r)
}

// WithAttrs returns a Handler whose next handler has the attributes as.
func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	return &Handler{next: h.next.WithAttrs(as), lim: h.lim, key: h.key}
}

// WithGroup returns a Handler whose next handler opens the group name.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(name), lim: h.lim, key: h.key}
}
