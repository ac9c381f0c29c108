package onewire_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/sensors"
	"github.com/iot-hub/agent/agent/sensors/onewire"
)

// Files as w1_therm writes them.
const (
	good    = "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n"
	powerOn = "50 05 4b 46 7f ff 0c 10 1c : crc=1c YES\n50 05 4b 46 7f ff 0c 10 1c t=85000\n"
	badCRC  = "72 01 4b 46 7f ff 0e 10 58 : crc=57 NO\n72 01 4b 46 7f ff 0e 10 58 t=23125\n"
)

// bus makes a fake /sys/bus/w1/devices: files by path under it, and the
// bus master's directory, which is no probe.
func bus(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "w1_bus_master1"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		put(t, filepath.Join(dir, name), content)
	}
	return dir
}

func put(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestReadsTheProbesFound reads every probe on the bus, by w1_slave or,
// without one, temperature, names one, and leaves out those that fail,
// while another reads.
func TestReadsTheProbesFound(t *testing.T) {
	dir := bus(t, map[string]string{
		"28-0316a2791cff/w1_slave":    good,
		"28-00000a1b2c3d/temperature": "19500\n",
		"28-0000075d3c1b/w1_slave":    powerOn,
		"28-000005e2fdc3/w1_slave":    badCRC,
		"28-0000075d3c1b/name":        "28-0000075d3c1b\n",
	})
	s, err := onewire.New(onewire.Config{Name: "tank", Settings: onewire.Settings{Path: dir,
		Names: map[string]string{"28-0316a2791cff": "flow"}}})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := s.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []sensors.Reading{
		{Metric: "28-00000a1b2c3d", Value: 19.5, Unit: "Cel"},
		{Metric: "flow", Value: 23.125, Unit: "Cel"},
	}
	if !reflect.DeepEqual(rs, want) {
		t.Errorf("Read = %v; want %v (the power-on and bad-CRC probes left out)", rs, want)
	}

}

// TestFindsProbesPluggedInAndGone: the bus is listed again once the
// kernel's 10 s search may have found a probe plugged in, and at once
// after a probe is gone.
func TestFindsProbesPluggedInAndGone(t *testing.T) {
	dir := bus(t, map[string]string{"28-0316a2791cff/w1_slave": good})
	s, err := onewire.New(onewire.Config{Name: "tank", Settings: onewire.Settings{Path: dir}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	onewire.SetNow(s, func() time.Time { return now })
	read := func() ([]sensors.Reading, error) { return s.Read(context.Background()) }
	if rs, err := read(); err != nil || len(rs) != 1 {
		t.Fatalf("Read = %v, %v; want the one probe", rs, err)
	}

	put(t, filepath.Join(dir, "28-0000000000aa", "temperature"), "-5250\n")
	now = now.Add(9 * time.Second)
	if rs, err := read(); err != nil || len(rs) != 1 {
		t.Errorf("Read 9 s after the listing = %v, %v; want the probe listed, the new one not yet", rs, err)
	}
	now = now.Add(time.Second)
	if rs, err := read(); err != nil || len(rs) != 2 || rs[0] != (sensors.Reading{Metric: "28-0000000000aa", Value: -5.25, Unit: "Cel"}) {
		t.Errorf("Read 10 s after the listing = %v, %v; want the new probe first of two", rs, err)
	}

	// Both go, another comes: the read finds them gone, the next one
	// lists the bus again, within the 10 s.
	for _, id := range []string{"28-0000000000aa", "28-0316a2791cff"} {
		if err := os.RemoveAll(filepath.Join(dir, id)); err != nil {
			t.Fatal(err)
		}
	}
	put(t, filepath.Join(dir, "28-0000000000bb", "w1_slave"), good)
	if _, err := read(); err == nil || !strings.Contains(err.Error(), "not on the bus") {
		t.Errorf("Read with the probes gone = %v; want them not on the bus", err)
	}
	if rs, err := read(); err != nil || len(rs) != 1 || rs[0].Metric != "28-0000000000bb" {
		t.Errorf("the next Read = %v, %v; want the other probe, listed again", rs, err)
	}
}

// TestFailsWhenEveryProbeFails names each probe and why.
func TestFailsWhenEveryProbeFails(t *testing.T) {
	dir := bus(t, map[string]string{"28-0000075d3c1b/w1_slave": powerOn, "28-000005e2fdc3/w1_slave": badCRC})
	s, err := onewire.New(onewire.Config{Name: "tank", Settings: onewire.Settings{Path: dir}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Read(context.Background())
	if !errors.Is(err, onewire.ErrPowerOn) || !errors.Is(err, onewire.ErrCRC) ||
		!strings.Contains(err.Error(), "28-0000075d3c1b") || !strings.Contains(err.Error(), "28-000005e2fdc3") {
		t.Errorf("Read = %v; want the power-on value of 28-0000075d3c1b and the CRC of 28-000005e2fdc3", err)
	}
}

// TestConfiguredProbes reads only the probes named, and fails on one not
// on the bus.
func TestConfiguredProbes(t *testing.T) {
	dir := bus(t, map[string]string{"28-0316a2791cff/w1_slave": good, "28-00000a1b2c3d/temperature": "19500\n"})
	s, err := onewire.New(onewire.Config{Name: "pipe", Settings: onewire.Settings{Path: dir, Probes: []string{"28-0316a2791cff"}}})
	if err != nil {
		t.Fatal(err)
	}
	if rs, err := s.Read(context.Background()); err != nil || len(rs) != 1 || rs[0].Metric != "28-0316a2791cff" {
		t.Errorf("Read = %v, %v; want the one probe configured", rs, err)
	}
	gone, err := onewire.New(onewire.Config{Name: "gone", Settings: onewire.Settings{Path: dir, Probes: []string{"28-00000000ffff"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gone.Read(context.Background()); err == nil || !strings.Contains(err.Error(), "28-00000000ffff: not on the bus") {
		t.Errorf("Read of a probe not on the bus = %v; want an error saying so", err)
	}
}

// TestAbsentAndEmptyBus: no bus directory is an absent source; a bus
// without probes is there, and its reads fail until one comes.
func TestAbsentAndEmptyBus(t *testing.T) {
	_, err := onewire.New(onewire.Config{Name: "x", Settings: onewire.Settings{Path: filepath.Join(t.TempDir(), "w1")}})
	if !errors.Is(err, sensors.ErrAbsent) {
		t.Errorf("New without the bus = %v; want sensors.ErrAbsent", err)
	}
	s, err := onewire.New(onewire.Config{Name: "x", Settings: onewire.Settings{Path: bus(t, nil)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Read(context.Background()); err == nil || !strings.Contains(err.Error(), "no temperature probe") {
		t.Errorf("Read of an empty bus = %v; want an error saying there is no probe", err)
	}
}

func TestSettingsValidate(t *testing.T) {
	for _, tc := range []struct {
		s    onewire.Settings
		want string
	}{
		{onewire.Settings{Probes: []string{"28-0316a2791cff"}, Names: map[string]string{"28-0316a2791cff": "flow"}}, ""},
		{onewire.Settings{Probes: []string{"28-0316A2791CFF"}}, "probes"},
		{onewire.Settings{Probes: []string{"w1_bus_master1"}}, "probes"},
		{onewire.Settings{Names: map[string]string{"flow": "28-0316a2791cff"}}, "names"},
		{onewire.Settings{Names: map[string]string{"28-0316a2791cff": ""}}, "names"},
		{onewire.Settings{Names: map[string]string{"28-0316a2791cff": "t", "28-00000a1b2c3d": "t"}}, "names"},
	} {
		err := tc.s.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("Validate(%+v) = %v; want an error on %q", tc.s, err, tc.want)
		}
	}
}
