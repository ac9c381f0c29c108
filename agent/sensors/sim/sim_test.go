package sim_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/sensors"
	"github.com/iot-hub/agent/agent/sensors/sim"
	"github.com/iot-hub/agent/internal/clocktest"
)

// seqOf returns the seq reading of rs.
func seqOf(t *testing.T, rs []sensors.Reading) uint64 {
	t.Helper()
	for _, r := range rs {
		if r.Metric == "seq" {
			return uint64(r.Value)
		}
	}
	t.Fatalf("readings %v have no seq", rs)
	return 0
}

func read(t *testing.T, s *sim.Sensor) []sensors.Reading {
	t.Helper()
	rs, err := s.Read(context.Background())
	if err != nil {
		t.Fatalf("Read = %v", err)
	}
	return rs
}

func TestSeqContinuesAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	s, err := sim.New(sim.Config{Name: "sim1", StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for want := uint64(1); want <= 3; want++ {
		if got := seqOf(t, read(t, s)); got != want {
			t.Fatalf("seq = %d; want %d", got, want)
		}
	}
	// A restart: a new Sensor on the same directory carries on.
	s, err = sim.New(sim.Config{Name: "sim1", StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if s.Seq() != 3 {
		t.Errorf("Seq() after restart = %d; want 3", s.Seq())
	}
	if got := seqOf(t, read(t, s)); got != 4 {
		t.Errorf("seq after restart = %d; want 4", got)
	}
	// Another sensor has its own count.
	other, err := sim.New(sim.Config{Name: "sim2", StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if got := seqOf(t, read(t, other)); got != 1 {
		t.Errorf("seq of another sensor = %d; want 1", got)
	}
	// Only the two seq files are left: no temporary file.
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "sim-sim1.seq sim-sim2.seq" {
		t.Errorf("state dir holds %v; want the two seq files", names)
	}
}

func TestDamagedSeqFile(t *testing.T) {
	for name, content := range map[string]string{
		"garbage":  "\x00\x17garbage",
		"empty":    "",
		"negative": "-4\n",
		"overflow": "99999999999999999999999\n",
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "sim-s.seq"), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			s, err := sim.New(sim.Config{Name: "s", StateDir: dir, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatalf("New = %v; want the damaged file tolerated", err)
			}
			if got := seqOf(t, read(t, s)); got != 1 {
				t.Errorf("seq = %d; want 1", got)
			}
			if !strings.Contains(logs.String(), "seq file is damaged") {
				t.Errorf("log %q does not tell of the damaged file", logs.String())
			}
			// The file is whole again.
			if b, _ := os.ReadFile(filepath.Join(dir, "sim-s.seq")); string(b) != "1\n" {
				t.Errorf("seq file = %q; want %q", b, "1\n")
			}
		})
	}
}

func TestValuesFollowTime(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := clocktest.New(start)
	s, err := sim.New(sim.Config{Name: "s", StateDir: t.TempDir(), Settings: sim.Settings{Period: 4 * time.Minute}, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		at          time.Duration
		temp, humid float64
	}{{0, 21.5, 35}, {time.Minute, 24.5, 45}, {2 * time.Minute, 21.5, 55}, {3 * time.Minute, 18.5, 45}, {4 * time.Minute, 21.5, 35}}
	for _, w := range want {
		clk.Advance(start.Add(w.at).Sub(clk.Now()))
		rs := read(t, s)
		if len(rs) != 3 || rs[0].Metric != "temperature" || rs[0].Unit != "Cel" || rs[1].Metric != "humidity" || rs[1].Unit != "%" {
			t.Fatalf("readings = %v; want temperature, humidity, seq", rs)
		}
		if math.Abs(rs[0].Value-w.temp) > 0.01 || math.Abs(rs[1].Value-w.humid) > 0.01 {
			t.Errorf("at +%v: temperature %v, humidity %v; want %v, %v", w.at, rs[0].Value, rs[1].Value, w.temp, w.humid)
		}
	}
}

func TestReadFailsWhenSeqCannotBeSaved(t *testing.T) {
	dir := t.TempDir()
	s, err := sim.New(sim.Config{Name: "s", StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	read(t, s)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Read(context.Background()); err == nil {
		t.Fatal("Read with the state dir gone = nil; want an error")
	}
	if s.Seq() != 1 {
		t.Errorf("Seq() = %d after a failed save; want 1 (unchanged)", s.Seq())
	}
}

func TestNewRefuses(t *testing.T) {
	for _, cfg := range []sim.Config{{Name: "", StateDir: "x"}, {Name: "a/b", StateDir: "x"}, {Name: "s"}, {Name: "s", StateDir: "x", Settings: sim.Settings{ReadDelay: -time.Second}}} {
		if _, err := sim.New(cfg); err == nil {
			t.Errorf("New(%+v) = nil; want an error", cfg)
		}
	}
}

func TestReadDelay(t *testing.T) {
	const delay = 200 * time.Millisecond
	s, err := sim.New(sim.Config{Name: "s", StateDir: t.TempDir(), Settings: sim.Settings{ReadDelay: delay}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if got := seqOf(t, read(t, s)); got != 1 {
		t.Errorf("seq = %d; want 1", got)
	}
	if took := time.Since(start); took < delay {
		t.Errorf("Read took %v; want at least the delay, %v", took, delay)
	}

	// A read whose context ends during the wait gives up, with the
	// context's error, and takes no seq.
	s, err = sim.New(sim.Config{Name: "slow", StateDir: t.TempDir(), Settings: sim.Settings{ReadDelay: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if rs, err := s.Read(ctx); !errors.Is(err, context.DeadlineExceeded) || rs != nil {
		t.Errorf("Read with a delay of an hour = %v, %v; want the deadline's error", rs, err)
	}
	if s.Seq() != 0 {
		t.Errorf("Seq() = %d after a read given up; want 0", s.Seq())
	}
	// An ended context is refused at once.
	if _, err := s.Read(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Read with an ended context = %v; want its error", err)
	}
}
