package thermal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/iot-hub/agent/agent/sensors"
)

// Sensor reads the thermal zones. It keeps each zone's temp file open
// and reads it again from its start, which makes sysfs measure anew: a
// read is then one system call. It is safe for concurrent use.
type Sensor struct {
	name  string
	zones []string // directories

	mu    sync.Mutex
	files []*os.File // of the zones' temp files; nil until opened, and after a failed read
}

// Config configures a Sensor.
type Config struct {
	// Name is the sensor's name in telemetry.
	Name string
	// Settings say where the zones are: the keys of a thermal sensor.
	Settings
}

// New returns the sensor that reads the zones under cfg.Path
// (DefaultPath when empty). It fails with sensors.ErrAbsent when there
// is none.
func New(cfg Config) (*Sensor, error) {
	cfg.SetDefaults()
	dir := cfg.Path
	temps, err := filepath.Glob(filepath.Join(dir, "thermal_zone*", "temp"))
	if err != nil {
		return nil, fmt.Errorf("thermal: %w", err)
	}
	if len(temps) == 0 {
		return nil, fmt.Errorf("thermal: no thermal_zone*/temp in %s: %w", dir, sensors.ErrAbsent)
	}
	s := &Sensor{name: cfg.Name}
	for _, t := range temps {
		s.zones = append(s.zones, filepath.Dir(t))
	}
	slices.SortFunc(s.zones, func(a, b string) int { return zoneNumber(a) - zoneNumber(b) })
	s.files = make([]*os.File, len(s.zones))
	return s, nil
}

// zoneNumber is N of a thermal_zoneN directory, for sorting zone10 after
// zone9.
func zoneNumber(dir string) int {
	n, _ := strconv.Atoi(strings.TrimPrefix(filepath.Base(dir), "thermal_zone"))
	return n
}

// Name returns the configured name.
func (s *Sensor) Name() string { return s.name }

// Read returns one reading per zone that could be read.
func (s *Sensor) Read(ctx context.Context) ([]sensors.Reading, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var rs []sensors.Reading
	var errs []error
	var buf [32]byte
	for i, z := range s.zones {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		milli, err := s.readZone(i, buf[:])
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", filepath.Join(z, "temp"), err))
			continue
		}
		rs = append(rs, sensors.Reading{Metric: filepath.Base(z), Value: float64(milli) / 1000, Unit: "Cel"})
	}
	if len(rs) == 0 {
		return nil, fmt.Errorf("thermal: %w", errors.Join(errs...))
	}
	return rs, nil
}

// readZone reads zone i's temperature in millidegrees, opening its file
// if it is not open, and closing it after an error so that the next read
// opens it again (the zone's driver may have been reloaded).
func (s *Sensor) readZone(i int, buf []byte) (int64, error) {
	f := s.files[i]
	if f == nil {
		var err error
		if f, err = os.Open(filepath.Join(s.zones[i], "temp")); err != nil {
			return 0, err
		}
		s.files[i] = f
	}
	n, err := f.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		f.Close()
		s.files[i] = nil
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(buf[:n])), 10, 64)
}

// Close closes the zones' files.
func (s *Sensor) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for i, f := range s.files {
		if f != nil {
			errs = append(errs, f.Close())
			s.files[i] = nil
		}
	}
	return errors.Join(errs...)
}
