package main

import (
	"io"
	"log/slog"
	"os"

	"github.com/iot-hub/agent/agent/config"
)

// newLogger returns the agent's logger, writing to w: text when the
// format is text, or auto and w is a terminal; JSON otherwise.
func newLogger(c config.Log, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.SlogLevel()}
	if c.Format == config.FormatText || c.Format == config.FormatAuto && isTerminal(w) {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// isTerminal reports whether w is a character device: a terminal, which
// is all that matters here (/dev/null is one too, and nobody reads it).
// This avoids a dependency on golang.org/x/term for one ioctl.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
