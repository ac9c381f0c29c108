package host

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// thermalDir is where Linux lists the thermal zones, under the root.
const thermalDir = "sys/class/thermal"

// cpuTemperature returns the temperature of the first thermal zone, by
// number, whose type is the CPU's, else of the first zone that reads; nil
// when none reads.
func (r reader) cpuTemperature(buf []byte) *float64 {
	var first *float64
	for _, zone := range r.thermalZones() {
		cpu := isCPUZone(r.zoneType(zone, buf))
		if !cpu && first != nil {
			continue
		}
		t, ok := r.zoneTemperature(zone, buf)
		switch {
		case ok && cpu:
			return &t
		case ok && first == nil:
			first = &t
		}
	}
	return first
}

// isCPUZone tells whether a thermal zone of type typ measures the CPU:
// Raspberry Pi's and other ARM boards' SoC, Intel's package.
func isCPUZone(typ string) bool {
	switch typ {
	case "cpu-thermal", "cpu_thermal", "soc-thermal", "x86_pkg_temp":
		return true
	}
	return false
}

// thermalZones returns the thermal zones' directories, relative to the
// root, by number: thermal_zone10 after thermal_zone9.
func (r reader) thermalZones() []string {
	d, err := os.Open(r.path(thermalDir))
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

// zoneType returns a zone's type, "" when it does not read.
func (r reader) zoneType(zone string, buf []byte) string {
	b, err := r.readFile(filepath.Join(thermalDir, zone, "type"), buf)
	if err != nil {
		return ""
	}
	return string(bytes.TrimSpace(b))
}

// zoneTemperature reads a zone's temperature, in millidegrees in the
// file, in degrees Celsius.
func (r reader) zoneTemperature(zone string, buf []byte) (float64, bool) {
	b, err := r.readFile(filepath.Join(thermalDir, zone, "temp"), buf)
	if err != nil {
		return 0, false
	}
	milli, err := strconv.ParseInt(string(bytes.TrimSpace(b)), 10, 64)
	if err != nil {
		return 0, false
	}
	return float64(milli) / 1000, true
}
