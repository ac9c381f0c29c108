package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/iot-hub/agent/agent/sensors"
	"github.com/iot-hub/agent/internal/atomicfile"
	"github.com/iot-hub/agent/internal/clock"
)

// Config configures a Sensor.
type Config struct {
	// Name is the sensor's name; it names its seq file. Required.
	Name string
	// StateDir is the directory of the seq file; it must exist. Required.
	StateDir string
	// Settings shape the readings: the keys of a sim sensor.
	Settings
	// Logger receives the news of a damaged seq file. Default: discard.
	Logger *slog.Logger
	// Clock is the time the waves follow. Default clock.System.
	Clock clock.Clock
}

// Sensor is a simulated sensor. It is safe for concurrent use.
type Sensor struct {
	cfg  Config
	path string

	mu  sync.Mutex
	seq uint64 // the last seq read
}

var _ sensors.Sensor = (*Sensor)(nil)

// New returns the sensor, reading its last seq from
// StateDir/sim-<Name>.seq.
func New(cfg Config) (*Sensor, error) {
	if cfg.Name == "" || strings.ContainsAny(cfg.Name, `/\`) || cfg.Name == "." || cfg.Name == ".." {
		return nil, fmt.Errorf("sim: name %q must be non-empty and name a file", cfg.Name)
	}
	if cfg.StateDir == "" {
		return nil, errors.New("sim: StateDir is required")
	}
	if cfg.ReadDelay < 0 {
		return nil, fmt.Errorf("sim: ReadDelay %v is negative", cfg.ReadDelay)
	}
	if cfg.Period <= 0 {
		cfg.Period = DefaultPeriod
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Clock = clock.Or(cfg.Clock)
	s := &Sensor{cfg: cfg, path: filepath.Join(cfg.StateDir, "sim-"+cfg.Name+".seq")}
	b, err := os.ReadFile(s.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		// The first run.
	case err != nil:
		return nil, fmt.Errorf("sim: %w", err)
	default:
		seq, perr := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		if perr != nil {
			cfg.Logger.Warn("sim: seq file is damaged; seq starts again from 1", "sensor", cfg.Name, "file", s.path, "err", perr)
			seq = 0
		}
		s.seq = seq
	}
	return s, nil
}

// Name returns the configured name.
func (s *Sensor) Name() string { return s.cfg.Name }

// Seq returns the last seq read (0 before the first read).
func (s *Sensor) Seq() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seq
}

// Read returns temperature, humidity and the next seq, once that seq is
// on disk. With a ReadDelay it first waits that long, or returns ctx's
// error when ctx ends first.
func (s *Sensor) Read(ctx context.Context) ([]sensors.Reading, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if d := s.cfg.ReadDelay; d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	next := s.seq + 1
	if err := atomicfile.WriteFile(s.path, []byte(strconv.FormatUint(next, 10)+"\n")); err != nil {
		return nil, fmt.Errorf("sim: save seq: %w", err)
	}
	s.seq = next
	phase := 2 * math.Pi * float64(s.cfg.Clock.Now().UnixNano()%int64(s.cfg.Period)) / float64(s.cfg.Period)
	return []sensors.Reading{
		{Metric: "temperature", Value: round2(21.5 + 3*math.Sin(phase)), Unit: "Cel"},
		{Metric: "humidity", Value: round2(45 + 10*math.Sin(phase-math.Pi/2)), Unit: "%"},
		{Metric: "seq", Value: float64(next), Unit: ""},
	}, nil
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }
