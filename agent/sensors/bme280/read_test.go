package bme280_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/iot-hub/agent/agent/sensors"
	"github.com/iot-hub/agent/agent/sensors/bme280"
)

// Tolerances of bmxx80's fixed-point compensation against the
// datasheet's floating-point one: temperature is rounded to 0.01 °C;
// pressure (1/256 Pa steps) and humidity (1/1024 % steps) lose a few
// steps to the truncations along the way.
const (
	tolCelsius = 0.006
	tolHPa     = 0.001 // 0.1 Pa
	tolPercent = 0.005
)

// wantReadings returns the readings of raw values a on d, by the
// datasheet's formulas.
func wantReadings(d device, a adc) (celsius, hPa, percent float64) {
	celsius, tFine := compensateT(d.cal, a.T)
	return celsius, compensateP(d.cal, a.P, tFine) / 100, compensateH(d.cal, a.H, tFine)
}

// check compares readings with want, metric by metric, within tol.
func check(t *testing.T, got []sensors.Reading, want []sensors.Reading, tol map[string]float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("Read = %v; want %v", got, want)
	}
	for i, w := range want {
		g := got[i]
		if g.Metric != w.Metric || g.Unit != w.Unit || math.Abs(g.Value-w.Value) > tol[w.Metric] {
			t.Errorf("reading %d = %+v; want %+v ± %g", i, g, w, tol[w.Metric])
		}
	}
}

var tolerances = map[string]float64{"temperature": tolCelsius, "pressure": tolHPa, "humidity": tolPercent}

func TestReadCompensates(t *testing.T) {
	for _, a := range []adc{
		{T: 519888, P: 310000, H: 29000}, // 20.44 °C, 1022.07 hPa, 42.38 %
		{T: 470000, P: 300000, H: 26000}, // 4.54 °C, 1011.14 hPa, 24.98 %
		{T: 560000, P: 330000, H: 33000}, // 33.23 °C, 1011.00 hPa, 66.06 %
		{T: 400000, P: 290000, H: 24000}, // -17.77 °C, 989.04 hPa, 13.59 %
		{T: 519888, P: 310000, H: 52000}, // humidity clamped at 100 %
		{T: 519888, P: 310000, H: 15000}, // humidity clamped at 0 %
	} {
		t.Run(fmt.Sprintf("T%d_P%d_H%d", a.T, a.P, a.H), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b, _ := openBus(t, playback(t, bench.initOps(defaults), bench.measureOps(defaults, 0, a)))
				s := newSensor(t, b, bench, bme280.Config{})
				rs, err := s.Read(context.Background())
				if err != nil {
					t.Fatalf("Read = %v", err)
				}
				c, p, h := wantReadings(bench, a)
				check(t, rs, []sensors.Reading{
					{Metric: "temperature", Value: c, Unit: "Cel"},
					{Metric: "pressure", Value: p, Unit: "hPa"},
					{Metric: "humidity", Value: h, Unit: "%"},
				}, tolerances)
				if s.Chip() != "BME280" {
					t.Errorf("Chip() = %q; want BME280", s.Chip())
				}
			})
		})
	}
}

func TestReadPollsStatusAndReinitialisesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		first, second := adc{T: 519888, P: 310000, H: 29000}, adc{T: 520000, P: 309900, H: 29100}
		b, a := openBus(t, playback(t,
			bench.initOps(defaults),
			bench.measureOps(defaults, 2, first), // "measuring" twice, then done
			bench.measureOps(defaults, 0, second)))
		s := newSensor(t, b, bench, bme280.Config{})
		for _, raw := range []adc{first, second} {
			rs, err := s.Read(context.Background())
			if err != nil {
				t.Fatalf("Read = %v", err)
			}
			c, _, _ := wantReadings(bench, raw)
			if math.Abs(rs[0].Value-c) > tolCelsius {
				t.Errorf("temperature = %v; want %v", rs[0].Value, c)
			}
		}
		if opens, closes := a.counts(); opens != 1 || closes != 0 {
			t.Errorf("%d opens, %d closes; want 1, 0", opens, closes)
		}
	})
}

// The BMP280 datasheet's worked example (§3.12): its trimming
// parameters and raw values give 25.08 °C and 100653.27 Pa.
var datasheetExample = device{addr: 0x77, chip: chipBMP280, cal: calibration{
	T1: 27504, T2: 26435, T3: -1000,
	P1: 36477, P2: -10685, P3: 3024, P4: 2855, P5: 140, P6: -7, P7: 15500, P8: -14600, P9: 6000,
}}

func TestBMP280ReadsTemperatureAndPressureOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := datasheetExample
		s8 := settings{ctrlMeas: ctrlMeas(1, 1, modeForced)}
		raw := adc{T: 519888, P: 415148}
		b, _ := openBus(t, playback(t, d.initOps(s8), d.measureOps(s8, 0, raw), d.measureOps(s8, 0, raw)))
		var log bytes.Buffer
		s := newSensor(t, b, d, bme280.Config{Logger: slog.New(slog.NewTextHandler(&log, nil))})
		for range 2 {
			rs, err := s.Read(context.Background())
			if err != nil {
				t.Fatalf("Read = %v", err)
			}
			check(t, rs, []sensors.Reading{
				{Metric: "temperature", Value: 25.08, Unit: "Cel"},
				{Metric: "pressure", Value: 1006.5327, Unit: "hPa"},
			}, tolerances)
		}
		if s.Chip() != "BMP280" {
			t.Errorf("Chip() = %q; want BMP280", s.Chip())
		}
		if n := strings.Count(log.String(), "no humidity sensor"); n != 1 {
			t.Errorf("log %q has %d warnings that the chip has no humidity sensor; want 1", log.String(), n)
		}
	})
}

func TestOversamplingAndFilterBits(t *testing.T) {
	off := bme280.Off
	for _, tt := range []struct {
		name    string
		cfg     bme280.Config
		want    settings
		metrics []string
	}{
		{"defaults", bme280.Config{},
			settings{ctrlMeas: 0b001_001_01, ctrlHum: 0b001}, []string{"temperature", "pressure", "humidity"}},
		{"all 16x", bme280.Config{Oversampling: bme280.Oversampling{Temperature: 16, Pressure: 16, Humidity: 16}},
			settings{ctrlMeas: 0b101_101_01, ctrlHum: 0b101}, []string{"temperature", "pressure", "humidity"}},
		{"indoor navigation", bme280.Config{Oversampling: bme280.Oversampling{Temperature: 2, Pressure: 16, Humidity: 1}, Filter: 16},
			settings{ctrlMeas: 0b010_101_01, ctrlHum: 0b001, config: 0b101_100_00}, []string{"temperature", "pressure", "humidity"}},
		{"humidity off", bme280.Config{Oversampling: bme280.Oversampling{Temperature: 1, Pressure: 4, Humidity: off}},
			settings{ctrlMeas: 0b001_011_01, ctrlHum: 0b000}, []string{"temperature", "pressure"}},
		{"pressure off, filter 4", bme280.Config{Oversampling: bme280.Oversampling{Temperature: 8, Pressure: off, Humidity: 2}, Filter: 4},
			settings{ctrlMeas: 0b100_000_01, ctrlHum: 0b010, config: 0b101_010_00}, []string{"temperature", "humidity"}},
		{"filter 1 is off", bme280.Config{Filter: 1},
			settings{ctrlMeas: 0b001_001_01, ctrlHum: 0b001}, []string{"temperature", "pressure", "humidity"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				raw := adc{T: 519888, P: 310000, H: 29000}
				b, _ := openBus(t, playback(t, bench.initOps(tt.want), bench.measureOps(tt.want, 0, raw)))
				rs, err := newSensor(t, b, bench, tt.cfg).Read(context.Background())
				if err != nil {
					t.Fatalf("Read = %v", err)
				}
				var metrics []string
				for _, r := range rs {
					metrics = append(metrics, r.Metric)
				}
				if fmt.Sprint(metrics) != fmt.Sprint(tt.metrics) {
					t.Errorf("Read's metrics = %v; want %v", metrics, tt.metrics)
				}
			})
		})
	}
}
