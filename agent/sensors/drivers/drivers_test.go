package drivers_test

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/iot-hub/agent/agent/sensors"
	"github.com/iot-hub/agent/agent/sensors/drivers"
	"github.com/iot-hub/agent/agent/sensors/modbus/modbustest"
	"github.com/iot-hub/agent/internal/confkeys"
	"github.com/iot-hub/agent/internal/ptytest"
	"github.com/iot-hub/agent/internal/syncbuf"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// parse returns the sensors of a sensors list, as agent/config reads them:
// decoded, their defaults filled in, each validated.
func parse(t *testing.T, sensorsYAML string) []drivers.Sensor {
	t.Helper()
	doc, err := confkeys.Parse([]byte("sensors:\n" + sensorsYAML))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Sensors []drivers.Sensor `yaml:"sensors"`
	}
	if err := doc.Decode(&file); err != nil {
		t.Fatal(err)
	}
	for i := range file.Sensors {
		s := &file.Sensors[i]
		s.SetDefaults()
		if err := s.Validate(); err != nil {
			t.Fatalf("sensors[%d]: %v", i, err)
		}
	}
	return file.Sensors
}

// open opens the set of cfgs; the test's cleanup closes it.
func open(t *testing.T, cfgs []drivers.Sensor, log *slog.Logger) *drivers.Set {
	t.Helper()
	set, err := drivers.Open(cfgs, t.TempDir(), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := set.Close(); err != nil {
			t.Errorf("Close = %v", err)
		}
	})
	return set
}

// read reads the scheduled sensor named name.
func read(t *testing.T, set *drivers.Set, name string) ([]sensors.Reading, error) {
	t.Helper()
	for _, sc := range set.Schedules {
		if sc.Sensor.Name() == name {
			ctx, cancel := context.WithTimeout(context.Background(), sc.Timeout)
			defer cancel()
			return sc.Sensor.Read(ctx)
		}
	}
	t.Fatalf("no sensor %s in the set", name)
	return nil, nil
}

func TestOpenEveryType(t *testing.T) {
	zones := filepath.Join(t.TempDir(), "thermal")
	if err := os.MkdirAll(filepath.Join(zones, "thermal_zone0"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(zones, "thermal_zone0", "temp"), []byte("48312\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	w1 := filepath.Join(t.TempDir(), "w1")
	if err := os.MkdirAll(filepath.Join(w1, "28-0316a2791cff"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(w1, "28-0316a2791cff", "w1_slave"),
		[]byte("72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Two slaves on one RS-485 line: one port, one queue.
	rs485 := ptytest.NewPair(t)
	line := modbustest.NewLine(t, 9600)
	line.Slave(1).SetInput(0, 215)               // 21.5 Cel, scaled
	line.Slave(2).SetHolding(10, 0x0001, 0x0002) // uint32, low word first: 0x00020001
	line.Serve(rs485)
	mcu := ptytest.NewPair(t)

	var logs syncbuf.Buffer
	set := open(t, parse(t, `
  - {name: sim, type: sim, interval: 1s}
  - {name: board, type: thermal, path: `+zones+`}
  - {name: nozones, type: thermal, path: `+t.TempDir()+`}
  - name: boiler
    type: modbus-rtu
    port: `+rs485.Path()+`
    slave: 1
    responseTimeout: 500ms
    registers: [{metric: temperature, function: 4, address: 0, type: int16, scale: 0.1, unit: Cel}]
  - name: meter
    type: modbus-rtu
    port: `+rs485.Path()+`
    slave: 2
    responseTimeout: 500ms
    registers: [{metric: energy, address: 10, type: uint32, wordOrder: little, unit: kW.h}]
  - {name: mcu, type: serial-line, port: `+mcu.Path()+`, format: kv, units: {temp: Cel}}
  - {name: weather, type: bme280, bus: /dev/i2c-99}
  - {name: tank, type: ds18b20, path: `+w1+`, names: {28-0316a2791cff: flow}}
  - {name: now1, type: ds18b20, path: `+filepath.Join(w1, "none")+`}
  - {name: script, type: exec, command: [/bin/sh, -c, "echo level=0.82"], format: kv, units: {level: m}}
`), slog.New(slog.NewTextHandler(&logs, nil)))

	var names []string
	for _, sc := range set.Schedules {
		names = append(names, sc.Sensor.Name())
	}
	if got := strings.Join(names, " "); got != "sim board boiler meter mcu weather tank script" {
		t.Errorf("sensors %s; want all but nozones and now1, whose sources are absent", got)
	}
	if !strings.Contains(logs.String(), `msg="sensor skipped: its source is absent" sensor=nozones`) {
		t.Errorf("the log does not say nozones was skipped:\n%s", logs.String())
	}

	for name, want := range map[string]sensors.Reading{
		"board":  {Metric: "thermal_zone0", Value: 48.312, Unit: "Cel"},
		"boiler": {Metric: "temperature", Value: 21.5, Unit: "Cel"},
		"meter":  {Metric: "energy", Value: 0x00020001, Unit: "kW.h"},
		"tank":   {Metric: "flow", Value: 23.125, Unit: "Cel"},
		"script": {Metric: "level", Value: 0.82, Unit: "m"},
	} {
		rs, err := read(t, set, name)
		if err != nil || len(rs) != 1 || rs[0].Metric != want.Metric || rs[0].Unit != want.Unit || !near(rs[0].Value, want.Value) {
			t.Errorf("%s: Read = %+v, %v; want %+v", name, rs, err, want)
		}
	}
	if rs, err := read(t, set, "sim"); err != nil || len(rs) != 3 {
		t.Errorf("sim: Read = %+v, %v; want three readings", rs, err)
	}

	// The line device prints after a partial first line.
	go func() {
		for range 20 {
			if _, err := mcu.Write([]byte("temp=2")); err != nil {
				return
			}
			if _, err := mcu.Write([]byte("3.5 unknown=x\r\ntemp=23.5\r\n")); err != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	if rs, err := read(t, set, "mcu"); err != nil || len(rs) != 1 || rs[0] != (sensors.Reading{Metric: "temp", Value: 23.5, Unit: "Cel"}) {
		t.Errorf("mcu: Read = %+v, %v; want temp 23.5 Cel", rs, err)
	}

	// An absent I²C bus is not skipped: its reads fail, naming it, and
	// succeed once it is there.
	_, err := read(t, set, "weather")
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "/dev/i2c-99") {
		t.Errorf("weather: Read = %v; want an error naming the absent bus", err)
	}
}

func TestOpenRefusesAndCloses(t *testing.T) {
	// The driver refuses what the configuration's rules let through: a response
	// timeout shorter than the longest answer takes at 1200 baud. What
	// was opened before is closed: the line device's reader goroutine
	// stops (goleak, in TestMain, fails the package otherwise).
	_, err := drivers.Open(parse(t, `
  - {name: sim, type: sim}
  - {name: mcu, type: serial-line, port: /dev/ttyUSB8}
  - name: slow
    type: modbus-rtu
    port: /dev/ttyUSB9
    baud: 1200
    slave: 1
    responseTimeout: 10ms
    registers: [{metric: t, address: 0}, {metric: u, address: 1}, {metric: v, address: 2}]
`), t.TempDir(), slog.New(slog.DiscardHandler))
	if err == nil || !strings.HasPrefix(err.Error(), "sensor slow: ") || !strings.Contains(err.Error(), "timeout") {
		t.Errorf("Open = %v; want an error naming the sensor and its timeout", err)
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }
