package logring_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/iot-hub/agent/internal/logring"
)

// newLogger returns a logger writing text to out and JSON lines to a
// ring of budget bytes, at info and above.
func newLogger(budget int) (*slog.Logger, *logring.Ring, *bytes.Buffer) {
	var out bytes.Buffer
	ring := logring.New(budget)
	return slog.New(ring.Handler(slog.NewTextHandler(&out, nil), slog.LevelInfo)), ring, &out
}

// msgs returns the msg of each line.
func msgs(t *testing.T, lines [][]byte) []string {
	t.Helper()
	out := make([]string, len(lines))
	for i, l := range lines {
		var m struct{ Msg string }
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("line %q is not JSON: %v", l, err)
		}
		out[i] = m.Msg
	}
	return out
}

// TestRingKeepsTheLatestWithinItsBudget: the ring holds the newest lines
// that fit, oldest first, and counts those it let go; the agent's own
// handler gets every line.
func TestRingKeepsTheLatestWithinItsBudget(t *testing.T) {
	log, ring, out := newLogger(4 << 10)
	for i := range 200 {
		log.Info(fmt.Sprintf("line %03d", i), "n", i)
	}
	got := ring.Lines(logring.Query{})
	if n := bytes.Count(out.Bytes(), []byte("\n")); n != 200 {
		t.Errorf("the agent's handler got %d lines; want 200", n)
	}
	total := 0
	for _, l := range got.Lines {
		total += len(l) + 48
	}
	if total > 4<<10 || len(got.Lines) < 20 {
		t.Errorf("%d lines of %d bytes with overhead kept in a 4 KiB ring", len(got.Lines), total)
	}
	m := msgs(t, got.Lines)
	if m[len(m)-1] != "line 199" || got.Dropped != uint64(200-len(m)) || got.Matched != len(m) {
		t.Errorf("kept %v (dropped %d, matched %d); want the last ones up to line 199, the rest counted dropped", m, got.Dropped, got.Matched)
	}
	for i := 1; i < len(m); i++ {
		if m[i] <= m[i-1] {
			t.Fatalf("lines out of order: %q after %q", m[i], m[i-1])
		}
	}
}

// TestRingQuery: the last N, since a time, a level and above; attributes
// and groups from With are in the lines; below the agent's level nothing
// is kept.
func TestRingQuery(t *testing.T) {
	log, ring, _ := newLogger(64 << 10)
	log.Debug("not kept: below info")
	log.Info("first")
	log.With("uplink", "mqtt").Warn("second")
	mid := time.Now()
	time.Sleep(2 * time.Millisecond)
	log.WithGroup("outbox").Error("third", "depth", 3)
	log.Info("fourth")

	if got := msgs(t, ring.Lines(logring.Query{}).Lines); fmt.Sprint(got) != "[first second third fourth]" {
		t.Errorf("all: %v", got)
	}
	if got := msgs(t, ring.Lines(logring.Query{Last: 2}).Lines); fmt.Sprint(got) != "[third fourth]" {
		t.Errorf("last 2: %v", got)
	}
	if got := msgs(t, ring.Lines(logring.Query{Since: mid}).Lines); fmt.Sprint(got) != "[third fourth]" {
		t.Errorf("since: %v", got)
	}
	got := ring.Lines(logring.Query{MinLevel: slog.LevelWarn, Last: 1})
	if m := msgs(t, got.Lines); fmt.Sprint(m) != "[third]" || got.Matched != 2 {
		t.Errorf("warn and above, last 1: %v of %d", m, got.Matched)
	}
	all := ring.Lines(logring.Query{}).Lines
	if !bytes.Contains(all[1], []byte(`"uplink":"mqtt"`)) || !bytes.Contains(all[2], []byte(`"outbox":{"depth":3}`)) {
		t.Errorf("attributes lost: %s / %s", all[1], all[2])
	}
}

// TestRingConcurrent: loggers on many goroutines, readers meanwhile; with
// -race.
func TestRingConcurrent(t *testing.T) {
	log, ring, _ := newLogger(16 << 10)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			l := log.With("g", g)
			for i := range 500 {
				l.Info("busy", "i", i)
				if i%50 == 0 {
					ring.Lines(logring.Query{Last: 10})
				}
			}
		})
	}
	wg.Wait()
	got := ring.Lines(logring.Query{})
	if got.Matched+int(got.Dropped) != 4000 {
		t.Errorf("kept %d + dropped %d; want 4000 lines accounted for", got.Matched, got.Dropped)
	}
	for _, l := range got.Lines {
		if !json.Valid(l) {
			t.Fatalf("line %q is not JSON", l)
		}
	}
}
