package host

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// thermalDir is where Linux lists the thermal zones, under the root.
const thermalDir = "sys/class/thermal"

// zone is the choice of the thermal zone whose temperature is the CPU's.
type zone struct {
	// temp is the chosen zone's temp file; "" when no zone reads.
	temp string
	// cpu tells whether the zone is the CPU's, not the first that reads
	// for want of one.
	cpu bool
	// scanned is when the zones were scanned for the choice; zero before
	// the first scan.
	scanned time.Time
}

// cpuTemperature returns the temperature of the chosen zone, r.mu held.
// The zones are scanned to choose (again) at the first call, when the
// chosen zone does not read, and when the choice is not a CPU's zone and
// rescanAge old.
func (r *reader) cpuTemperature(now time.Time) (float64, bool) {
	z := &r.zone
	due := z.scanned.IsZero() || !z.cpu && now.Sub(z.scanned) >= rescanAge
	if !due {
		if z.temp == "" {
			return 0, false
		}
		if t, ok := r.zoneTemperature(z.temp); ok {
			return t, true
		}
	}
	return r.chooseZone(now)
}

// chooseZone scans the thermal zones and chooses the first, by number,
// whose type is the CPU's, else the first that reads, r.mu held. It
// returns the chosen zone's temperature, false when none reads.
func (r *reader) chooseZone(now time.Time) (float64, bool) {
	r.zone = zone{scanned: now}
	var first float64
	for _, name := range r.thermalZones() {
		dir := filepath.Join(r.thermal, name)
		cpu := isCPUZone(r.zoneType(dir))
		if !cpu && r.zone.temp != "" {
			continue
		}
		temp := filepath.Join(dir, "temp")
		t, ok := r.zoneTemperature(temp)
		switch {
		case ok && cpu:
			r.zone.temp, r.zone.cpu = temp, true
			return t, true
		case ok && r.zone.temp == "":
			r.zone.temp, first = temp, t
		}
	}
	return first, r.zone.temp != ""
}

// isCPUZone tells whether a thermal zone of type typ measures the CPU:
// Raspberry Pi's and other ARM boards' SoC, Intel's package.
func isCPUZone(typ []byte) bool {
	switch string(typ) {
	case "cpu-thermal", "cpu_thermal", "soc-thermal", "x86_pkg_temp":
		return true
	}
	return false
}

// thermalZones returns the names of the thermal zones' directories, by
// number: thermal_zone10 after thermal_zone9.
func (r *reader) thermalZones() []string {
	d, err := os.Open(r.thermal)
	if err != nil {
		return nil
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	names = slices.DeleteFunc(names, func(name string) bool { return !strings.HasPrefix(name, "thermal_zone") })
	slices.SortFunc(names, func(a, b string) int { return zoneNumber(a) - zoneNumber(b) })
	return names
}

// zoneNumber is N of thermal_zoneN.
func zoneNumber(name string) int {
	n, _ := strconv.Atoi(strings.TrimPrefix(name, "thermal_zone"))
	return n
}

// zoneType returns the type of the zone in dir, nil when it does not
// read. It is r.buf's, until the next read.
func (r *reader) zoneType(dir string) []byte {
	b, err := r.readFile(filepath.Join(dir, "type"))
	if err != nil {
		return nil
	}
	return bytes.TrimSpace(b)
}

// zoneTemperature reads a zone's temp file, in millidegrees, in degrees
// Celsius.
func (r *reader) zoneTemperature(temp string) (float64, bool) {
	b, err := r.readFile(temp)
	if err != nil {
		return 0, false
	}
	milli, ok := parseInt(bytes.TrimSpace(b))
	if !ok {
		return 0, false
	}
	return float64(milli) / 1000, true
}
