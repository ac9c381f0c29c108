package lograte

import (
	"context"
	"log/slog"
)

// Logger writes lines to a *slog.Logger, limited per key by a [Limiter].
// Its methods are safe for concurrent use.
type Logger struct {
	log *slog.Logger
	lim *Limiter
}

// New returns a Logger writing to log (nil: discard), limited as cfg
// says.
func New(log *slog.Logger, cfg Config) *Logger {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Logger{log: log, lim: NewLimiter(cfg)}
}

// Log writes msg with args at level, as slog.Logger.Log does, unless the
// limit of key suppresses it; a line written after suppressed ones ends
// with [SuppressedKey] and their count. A line the logger's level leaves
// out is neither written nor counted.
func (l *Logger) Log(ctx context.Context, level slog.Level, key, msg string, args ...any) {
	if !l.log.Enabled(ctx, level) {
		return
	}
	n, ok := l.lim.Allow(key)
	if !ok {
		return
	}
	if n > 0 {
		args = append(args, SuppressedKey, n)
	}
	l.log.Log(ctx, level, msg, args...)
}

// Info logs at [slog.LevelInfo]; see [Logger.Log].
func (l *Logger) Info(key, msg string, args ...any) {
	l.Log(context.Background(), slog.LevelInfo, key, msg, args...)
}

// Warn logs at [slog.LevelWarn]; see [Logger.Log].
func (l *Logger) Warn(key, msg string, args ...any) {
	l.Log(context.Background(), slog.LevelWarn, key, msg, args...)
}

// Error logs at [slog.LevelError]; see [Logger.Log].
func (l *Logger) Error(key, msg string, args ...any) {
	l.Log(context.Background(), slog.LevelError, key, msg, args...)
}
