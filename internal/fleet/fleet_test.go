package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestLedgerCount tallies a run: readings received once and twice, one
// mosquitto acknowledged before the kill and never delivered (the
// broker's loss), one acknowledged after it and never delivered, and one
// never acknowledged (both the agent's), and one received that no
// sampler stored.
func TestLedgerCount(t *testing.T) {
	l := newLedger()
	killed := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	for _, id := range []string{"once", "twice", "broker", "after", "never"} {
		l.sampled(id, "gw-0001")
	}
	l.acked("once", killed.Add(-time.Minute))
	l.acked("twice", killed.Add(time.Minute))
	l.acked("broker", killed.Add(-time.Second))
	l.acked("after", killed.Add(time.Second))
	l.delivered("once")
	l.delivered("twice")
	l.delivered("twice")
	l.delivered("stranger")
	got := l.count(killed)
	want := tally{sampled: 5, received: 4, distinct: 2, duplicates: 1, lostByAgent: 2, lostByBroker: 1, foreign: 1}
	if got != want {
		t.Errorf("count = %+v; want %+v", got, want)
	}
	if n := l.waiting(killed); n != 2 {
		t.Errorf("waiting = %d; want 2 (after, never: the broker's loss is not waited for)", n)
	}
}

// TestLedgerDeliveredBeforeSampled: the verifier may get a reading
// before the sampler's Append returns; it is the sampler's all the same.
func TestLedgerDeliveredBeforeSampled(t *testing.T) {
	l := newLedger()
	l.delivered("early")
	l.sampled("early", "gw-0002")
	if got := l.count(time.Now()); got.sampled != 1 || got.distinct != 1 || got.foreign != 0 || got.lostByAgent != 0 {
		t.Errorf("count = %+v; want the reading sampled and received once", got)
	}
}

// TestAcceptsPerSecond reads a mosquitto log (log_timestamp_format %s):
// the connections accepted each second from since on; the lines before
// since and the other lines are not counted.
func TestAcceptsPerSecond(t *testing.T) {
	dir := t.TempDir()
	b := &broker{logFile: filepath.Join(dir, "mosquitto.log")}
	log := `1796599600: mosquitto version 2.0.11 running
1796599600: New connection from 127.0.0.1:40000 on port 1883.
1796599650: New connection from 127.0.0.1:40001 on port 1883.
1796599650: New client connected from 127.0.0.1:40001 as gw-0001 (p5, c0, k30).
1796599650: New connection from 127.0.0.1:40002 on port 1883.
1796599652: New connection from 127.0.0.1:40003 on port 1883.
1796599652: Client gw-0001 disconnected.
not a log line
`
	if err := os.WriteFile(b.logFile, []byte(log), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := b.acceptsPerSecond(time.Unix(1796599650, 0))
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{2, 0, 1}; !slices.Equal(got, want) {
		t.Errorf("acceptsPerSecond = %v; want %v", got, want)
	}
	if _, err := b.acceptsPerSecond(time.Unix(1796599700, 0)); err == nil {
		t.Error("acceptsPerSecond after the last connection: want an error, got none")
	}
}

// TestProcessCPU reads this process's CPU time from /proc, which a busy
// loop of 200 ms moves by about that much.
func TestProcessCPU(t *testing.T) {
	before := processCPU(os.Getpid())
	for start := time.Now(); time.Since(start) < 200*time.Millisecond; {
	}
	after := processCPU(os.Getpid())
	if d := after - before; d < 100*time.Millisecond || d > 2*time.Second {
		t.Errorf("CPU time moved %v over a 200 ms busy loop; want about 200 ms", d)
	}
	if got := processCPU(-1); got != 0 {
		t.Errorf("processCPU(-1) = %v; want 0", got)
	}
}

// TestReportTargets: the targets hold at 99% within 15 s and at most
// N/5 connections a second, and not past either.
func TestReportTargets(t *testing.T) {
	for _, tc := range []struct {
		at99    time.Duration
		accepts []int
		met     bool
	}{
		{14 * time.Second, []int{100, 200, 50}, true},
		{16 * time.Second, []int{100}, false},
		{10 * time.Second, []int{201}, false},
	} {
		r := report{o: options{n: 1000}, at99: tc.at99, ok99: true, accepts: tc.accepts}
		if got := r.targetsMet(); got != tc.met {
			t.Errorf("at99 %v, accepts %v: targetsMet = %v; want %v", tc.at99, tc.accepts, got, tc.met)
		}
	}
}
