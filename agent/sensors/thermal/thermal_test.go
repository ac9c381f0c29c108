package thermal_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"

	"github.com/iot-hub/agent/agent/sensors"
	"github.com/iot-hub/agent/agent/sensors/thermal"
)

// zones makes a fake /sys/class/thermal with the given temp files'
// contents, by zone number.
func zones(t *testing.T, temps map[int]string) string {
	t.Helper()
	dir := t.TempDir()
	for n, temp := range temps {
		z := filepath.Join(dir, "thermal_zone"+strconv.Itoa(n))
		if err := os.MkdirAll(z, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(z, "temp"), []byte(temp), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestRead(t *testing.T) {
	dir := zones(t, map[int]string{0: "45123\n", 2: "-1500\n", 3: "garbage\n", 10: "50000\n"})
	s, err := thermal.New(thermal.Config{Name: "board", Settings: thermal.Settings{Path: dir}})
	if err != nil {
		t.Fatal(err)
	}
	if s.Name() != "board" {
		t.Errorf("Name() = %q", s.Name())
	}
	rs, err := s.Read(context.Background())
	if err != nil {
		t.Fatalf("Read = %v", err)
	}
	want := []sensors.Reading{
		{Metric: "thermal_zone0", Value: 45.123, Unit: "Cel"},
		{Metric: "thermal_zone2", Value: -1.5, Unit: "Cel"},
		{Metric: "thermal_zone10", Value: 50, Unit: "Cel"},
	}
	if !reflect.DeepEqual(rs, want) {
		t.Errorf("Read = %v; want %v (in zone order, the damaged zone left out)", rs, want)
	}
}

func TestReadFailsWhenNoZoneReads(t *testing.T) {
	s, err := thermal.New(thermal.Config{Name: "board", Settings: thermal.Settings{Path: zones(t, map[int]string{0: "x"})}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Read(context.Background()); err == nil {
		t.Error("Read with no readable zone = nil; want an error")
	}
}

func TestAbsent(t *testing.T) {
	if _, err := thermal.New(thermal.Config{Name: "board", Settings: thermal.Settings{Path: t.TempDir()}}); !errors.Is(err, sensors.ErrAbsent) {
		t.Errorf("New on a board without zones = %v; want sensors.ErrAbsent", err)
	}
}

func TestReadSeesNewValues(t *testing.T) {
	dir := zones(t, map[int]string{0: "45000\n"})
	s, err := thermal.New(thermal.Config{Name: "board", Settings: thermal.Settings{Path: dir}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, milli := range []string{"45000", "47500", "100", "46000"} {
		// As sysfs does, the value changes under the open file.
		if err := os.WriteFile(filepath.Join(dir, "thermal_zone0", "temp"), []byte(milli+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		rs, err := s.Read(context.Background())
		want, _ := strconv.ParseFloat(milli, 64)
		if err != nil || len(rs) != 1 || rs[0].Value != want/1000 {
			t.Errorf("Read after the zone shows %s = %v, %v; want %v", milli, rs, err, want/1000)
		}
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	if rs, err := s.Read(context.Background()); err != nil || rs[0].Value != 46 {
		t.Errorf("Read after Close = %v, %v; want the zone opened again", rs, err)
	}
}
