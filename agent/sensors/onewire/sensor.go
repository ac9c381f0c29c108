package onewire

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/iot-hub/agent/agent/sensors"
)

// relistEvery is how long a sensor of every probe found reads the probes
// it listed before it lists the bus again. Linux's w1 bus master
// searches the bus every 10 s (the wire module's timeout): a probe
// plugged in is in sysfs no sooner. A probe that is gone has the bus
// listed again at the next read.
const relistEvery = 10 * time.Second

// Sensor reads the temperature probes on a 1-Wire bus. Read is called
// from one goroutine at a time.
type Sensor struct {
	name   string
	dir    string
	probes []string // the configured ones; nil: every probe found
	names  map[string]string
	now    func() time.Time

	found  []string  // by the last listing; nil: list again
	listed time.Time // when
}

// Config configures a Sensor.
type Config struct {
	// Name is the sensor's name in telemetry.
	Name string
	// Settings say where the bus is and which probes to read: the keys
	// of a onewire sensor.
	Settings
}

// New returns the sensor of the probes under cfg.Path (DefaultPath when
// empty). It fails with sensors.ErrAbsent when the path is not there:
// no 1-Wire bus master, or its modules not loaded.
func New(cfg Config) (*Sensor, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("onewire: %w", err)
	}
	if _, err := os.Stat(cfg.Path); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("onewire: no %s (are the w1-gpio and w1-therm modules loaded?): %w", cfg.Path, sensors.ErrAbsent)
	} else if err != nil {
		return nil, fmt.Errorf("onewire: %w", err)
	}
	return &Sensor{name: cfg.Name, dir: cfg.Path, probes: slices.Clone(cfg.Probes), names: cfg.Names, now: time.Now}, nil
}

// Name returns the configured name.
func (s *Sensor) Name() string { return s.name }

// Read returns one reading per probe that could be read, in the order of
// their ids.
func (s *Sensor) Read(ctx context.Context) ([]sensors.Reading, error) {
	probes := s.probes
	if probes == nil {
		var err error
		if probes, err = s.onTheBus(); err != nil {
			return nil, err
		}
	}
	var rs []sensors.Reading
	var errs []error
	for _, id := range probes {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		m, err := s.readProbe(id)
		if errors.Is(err, errGone) {
			s.found = nil // list the bus again at the next read
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", id, err))
			continue
		}
		name := id
		if n, ok := s.names[id]; ok {
			name = n
		}
		rs = append(rs, sensors.Reading{Metric: name, Value: float64(m) / 1000, Unit: "Cel"})
	}
	if len(rs) == 0 {
		return nil, fmt.Errorf("onewire: %w", errors.Join(errs...))
	}
	return rs, nil
}

// onTheBus returns the probes on the bus, as listed within relistEvery.
func (s *Sensor) onTheBus() ([]string, error) {
	if now := s.now(); s.found == nil || now.Sub(s.listed) >= relistEvery || now.Before(s.listed) {
		found, err := s.list()
		if err != nil {
			s.found = nil
			return nil, err
		}
		s.found, s.listed = found, now
	}
	return s.found, nil
}

// list lists the probes on the bus: the devices with a w1_slave or a
// temperature file.
func (s *Sensor) list() ([]string, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("onewire: %w", err)
	}
	var ids []string
	for _, e := range entries {
		if id := e.Name(); isProbeID(id) && (exists(filepath.Join(s.dir, id, "w1_slave")) || exists(filepath.Join(s.dir, id, "temperature"))) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("onewire: no temperature probe in %s", s.dir)
	}
	return ids, nil // ReadDir sorts them
}

// readProbe reads a probe in millidegrees: its w1_slave file, which
// carries the CRC, or its temperature file where there is none.
func (s *Sensor) readProbe(id string) (int64, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, id, "w1_slave"))
	if err == nil {
		return parseSlave(b)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return 0, err
	}
	b, err = os.ReadFile(filepath.Join(s.dir, id, "temperature"))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, errGone
	}
	if err != nil {
		return 0, err // w1_therm fails the read on a bad CRC
	}
	return parseTemperature(b)
}

// errGone: a probe's files are not there.
var errGone = errors.New("not on the bus")

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
