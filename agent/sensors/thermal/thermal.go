package thermal

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/iot-hub/agent/agent/sensors"
)

// DefaultPath is where Linux lists the thermal zones.
const DefaultPath = "/sys/class/thermal"

// Sensor reads the thermal zones. It is safe for concurrent use.
type Sensor struct {
	name  string
	zones []string // directories
}

var _ sensors.Sensor = (*Sensor)(nil)

// New returns a sensor named name that reads the zones under dir
// (DefaultPath when empty). It fails with sensors.ErrAbsent when there
// is none.
func New(name, dir string) (*Sensor, error) {
	if dir == "" {
		dir = DefaultPath
	}
	temps, err := filepath.Glob(filepath.Join(dir, "thermal_zone*", "temp"))
	if err != nil {
		return nil, fmt.Errorf("thermal: %w", err)
	}
	if len(temps) == 0 {
		return nil, fmt.Errorf("thermal: no thermal_zone*/temp in %s: %w", dir, sensors.ErrAbsent)
	}
	s := &Sensor{name: name}
	for _, t := range temps {
		s.zones = append(s.zones, filepath.Dir(t))
	}
	slices.SortFunc(s.zones, func(a, b string) int { return zoneNumber(a) - zoneNumber(b) })
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
	var rs []sensors.Reading
	var errs []error
	for _, z := range s.zones {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		b, err := os.ReadFile(filepath.Join(z, "temp"))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		milli, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
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
