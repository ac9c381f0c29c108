package rpc

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/internal/logring"
)

// Logs is what getLogs needs of the agent's log ring (*logring.Ring).
type Logs interface {
	Lines(q logring.Query) logring.Lines
}

// getLogs answers getLogs: the agent's latest log lines, from the ring it
// keeps in memory (log.ringBytes), as JSON objects, oldest first; the last
// params.lines of them (default 200), those since params.since, at
// params.level and above.
type getLogs struct {
	logs Logs
}

// Limits of getLogs' params.
const (
	defaultLogLines = 200
	maxLogLines     = 5000
)

// getLogsParams are the params of getLogs.
type getLogsParams struct {
	Lines int    `json:"lines,omitzero"`
	Since string `json:"since,omitzero"`
	Level string `json:"level,omitzero"`
}

// logsResult is the result of getLogs.
type logsResult struct {
	// Lines are the log lines, each a JSON object with time, level and
	// msg, and the line's attributes.
	Lines []jsontext.Value `json:"lines"`
	// Matched is how many lines the ring holds that match since and
	// level; Lines are the last of them.
	Matched int `json:"matched"`
	// Oldest is the time of the oldest line kept; absent when none is.
	Oldest string `json:"oldest,omitzero"`
	// Dropped is how many lines the ring has let go since the agent
	// started, to stay within RingBytes.
	Dropped uint64 `json:"dropped"`
	// RingBytes is the ring's size.
	RingBytes int `json:"ringBytes"`
}

func (g getLogs) run(_ context.Context, raw jsontext.Value) (any, error) {
	var p getLogsParams
	if err := decodeParams(raw, &p); err != nil {
		return nil, err
	}
	q := logring.Query{Last: defaultLogLines, MinLevel: slog.LevelDebug}
	switch {
	case p.Lines < 0 || p.Lines > maxLogLines:
		return nil, errorf(contracts.CodeInvalidCommand, "params.lines: %d is outside 1..%d", p.Lines, maxLogLines)
	case p.Lines > 0:
		q.Last = p.Lines
	}
	if p.Since != "" {
		t, err := time.Parse(time.RFC3339Nano, p.Since)
		if err != nil {
			return nil, errorf(contracts.CodeInvalidCommand, "params.since: %q is not an RFC 3339 time", p.Since)
		}
		q.Since = t
	}
	if p.Level != "" {
		if err := q.MinLevel.UnmarshalText([]byte(p.Level)); err != nil || strings.ContainsAny(p.Level, "+-") {
			return nil, errorf(contracts.CodeInvalidCommand, "params.level: %q: want debug, info, warn or error", p.Level)
		}
	}
	var found logring.Lines
	if g.logs != nil {
		found = g.logs.Lines(q)
	}
	out := logsResult{Lines: make([]jsontext.Value, len(found.Lines)), Matched: found.Matched, Dropped: found.Dropped, RingBytes: found.Budget}
	for i, l := range found.Lines {
		out.Lines[i] = l
	}
	if !found.Oldest.IsZero() {
		out.Oldest = stamp(found.Oldest)
	}
	return out, nil
}
