package main

import (
	"io"
	"log/slog"
	"os"
	"slices"

	"github.com/iot-hub/agent/agent/config"
	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/internal/logring"
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

// keepLogs returns log writing its lines also to a ring of
// log.ringBytes, and the ring, which getLogs reads; log itself and nil
// when getLogs is switched off (rpc.disable).
func keepLogs(cfg *config.Config, log *slog.Logger) (*slog.Logger, *logring.Ring) {
	if slices.Contains(cfg.RPC.Disable, contracts.MethodGetLogs) {
		return log, nil
	}
	ring := logring.New(int(cfg.Log.RingBytes))
	return slog.New(ring.Handler(log.Handler(), cfg.Log.SlogLevel())), ring
}
