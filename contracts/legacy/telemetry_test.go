package legacy_test

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/contracts/legacy"
)

func TestDecodeTelemetry(t *testing.T) {
	units := map[string]string{"temperature": "Cel", "humidity": "%", "pressure": "hPa"}
	readAt := time.Date(2026, 11, 27, 11, 15, 30, 100999999, time.FixedZone("CET", 3600))
	readAtUTC := time.Date(2026, 11, 27, 10, 15, 30, 100e6, time.UTC)
	tests := []struct {
		name    string
		input   string
		opts    legacy.TelemetryOptions
		want    []contracts.Reading
		ignored []string
	}{
		{"testdata telemetry.json, sorted, with units", string(readFile(t, "telemetry.json")),
			legacy.TelemetryOptions{DeviceID: "gw-0042", Sensor: "bme280", Units: units},
			[]contracts.Reading{
				{Sensor: "bme280", Metric: "humidity", Value: 40, Unit: "%", At: now},
				{Sensor: "bme280", Metric: "pressure", Value: 1013.2, Unit: "hPa", At: now},
				{Sensor: "bme280", Metric: "temperature", Value: 21.5, Unit: "Cel", At: now},
			}, nil},
		{"sensor defaults to the device, unit to empty", `{"temperature":21.5,"count":3}`,
			legacy.TelemetryOptions{DeviceID: "plug-7", Units: units},
			[]contracts.Reading{
				{Sensor: "plug-7", Metric: "count", Value: 3, Unit: "", At: now},
				{Sensor: "plug-7", Metric: "temperature", Value: 21.5, Unit: "Cel", At: now},
			}, nil},
		{"At is UTC, truncated to the millisecond", `{"temperature":-4.25}`,
			legacy.TelemetryOptions{DeviceID: "plug-7", At: readAt},
			[]contracts.Reading{{Sensor: "plug-7", Metric: "temperature", Value: -4.25, At: readAtUTC}}, nil},
		{"ignored members, sorted", `{"ok":true,"temperature":21.5,"firmware":"1.4.2","error":null,"nested":{"a":1},"list":[1,2]}`,
			legacy.TelemetryOptions{DeviceID: "plug-7"},
			[]contracts.Reading{{Sensor: "plug-7", Metric: "temperature", Value: 21.5, At: now}},
			[]string{"error", "firmware", "list", "nested", "ok"}},
		{"byte order of names", `{"b":2,"B":1,"a":3,"é":4,"_":5,"10":6,"9":7}`,
			legacy.TelemetryOptions{DeviceID: "plug-7"},
			[]contracts.Reading{
				{Sensor: "plug-7", Metric: "10", Value: 6, At: now},
				{Sensor: "plug-7", Metric: "9", Value: 7, At: now},
				{Sensor: "plug-7", Metric: "B", Value: 1, At: now},
				{Sensor: "plug-7", Metric: "_", Value: 5, At: now},
				{Sensor: "plug-7", Metric: "a", Value: 3, At: now},
				{Sensor: "plug-7", Metric: "b", Value: 2, At: now},
				{Sensor: "plug-7", Metric: "é", Value: 4, At: now},
			}, nil},
		{"numbers in every notation", `{"a":0,"b":-0.5,"c":1e3,"d":1E-3,"e":12345678901234567890,"f":1e-400}`,
			legacy.TelemetryOptions{DeviceID: "plug-7"},
			[]contracts.Reading{
				{Sensor: "plug-7", Metric: "a", Value: 0, At: now},
				{Sensor: "plug-7", Metric: "b", Value: -0.5, At: now},
				{Sensor: "plug-7", Metric: "c", Value: 1000, At: now},
				{Sensor: "plug-7", Metric: "d", Value: 0.001, At: now},
				{Sensor: "plug-7", Metric: "e", Value: 12345678901234567890, At: now},
				{Sensor: "plug-7", Metric: "f", Value: 0, At: now},
			}, nil},
		{"names with dots and escapes", `{"bme280.temperature":21.5,"\u0074emp":1}`,
			legacy.TelemetryOptions{DeviceID: "plug-7"},
			[]contracts.Reading{
				{Sensor: "plug-7", Metric: "bme280.temperature", Value: 21.5, At: now},
				{Sensor: "plug-7", Metric: "temp", Value: 1, At: now},
			}, nil},
	}
	o := deviceOrigin()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, ignored, err := legacy.DecodeTelemetry([]byte(tc.input), o, tc.opts)
			if err != nil {
				t.Fatalf("DecodeTelemetry(%q) = %v; want no error", tc.input, err)
			}
			checkHeader(t, m, o, contracts.TypeDeviceTelemetry)
			if m.Payload.DeviceID != tc.opts.DeviceID || !slices.Equal(m.Payload.Readings, tc.want) || !slices.Equal(ignored, tc.ignored) {
				t.Errorf("DecodeTelemetry(%q) = %s %+v, ignored %q; want %s %+v, ignored %q",
					tc.input, m.Payload.DeviceID, m.Payload.Readings, ignored, tc.opts.DeviceID, tc.want, tc.ignored)
			}
		})
	}
}

func TestDecodeTelemetryErrors(t *testing.T) {
	tests := append(malformedCases[:len(malformedCases):len(malformedCases)], []errorCase{
		{"empty object", `{}`, legacy.ErrNoReadings, "no member has a number value (0 ignored)"},
		{"no number", `{"status":"ok","up":true}`, legacy.ErrNoReadings, "no member has a number value (2 ignored)"},
		{"no number is a missing value", `{"status":"ok"}`, contracts.ErrRequired, "no member has a number value"},
		{"only nested numbers", `{"bme280":{"temperature":21.5}}`, legacy.ErrNoReadings, "no member has a number value (1 ignored)"},
		{"number beyond float64", `{"temperature":21.5,"energy":1e400}`, contracts.ErrInvalidValue, `"energy": 1e400 is beyond the range of a float64`},
		{"negative number beyond float64", `{"energy":-1e309}`, contracts.ErrInvalidValue, `"energy": -1e309 is beyond the range of a float64`},
		{"number without a name", `{"":1,"temperature":21.5}`, contracts.ErrRequired, `"": a number needs a member name to be a metric`},
		{"duplicate metric", `{"temperature":21.5,"temperature":22}`, contracts.ErrMalformed, `duplicate object member name "temperature"`},
	}...)
	opts := legacy.TelemetryOptions{DeviceID: "plug-7"}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, ignored, err := legacy.DecodeTelemetry([]byte(tc.input), deviceOrigin(), opts)
			if !checkError(err, "legacy: decode telemetry: ", tc) || m != nil || ignored != nil {
				t.Errorf("DecodeTelemetry(%q) = %v, %q, %v; want nil, nil, %v containing %q", tc.input, m, ignored, err, tc.kind, tc.text)
			}
		})
	}
	input := readFile(t, "telemetry.json")
	t.Run("no device", func(t *testing.T) {
		m, _, err := legacy.DecodeTelemetry(input, deviceOrigin(), legacy.TelemetryOptions{Sensor: "bme280"})
		if err == nil || !errors.Is(err, contracts.ErrRequired) || !strings.Contains(err.Error(), "TelemetryOptions.DeviceID: required") || m != nil {
			t.Errorf("DecodeTelemetry(%q) without DeviceID = %v, %v; want nil, TelemetryOptions.DeviceID: required", input, m, err)
		}
	})
	t.Run("origin without source", func(t *testing.T) {
		m, _, err := legacy.DecodeTelemetry(input, contracts.Origin{}, opts)
		if err == nil || !errors.Is(err, contracts.ErrRequired) || m != nil {
			t.Errorf("DecodeTelemetry(%q, Origin{}) = %v, %v; want nil, an error that source.type is required", input, m, err)
		}
	})
}

func TestEncodeTelemetry(t *testing.T) {
	o := deviceOrigin()
	reading := func(sensor, metric string, value float64) contracts.Reading {
		return contracts.Reading{Sensor: sensor, Metric: metric, Value: value, Unit: "", At: now}
	}
	telemetry := func(readings ...contracts.Reading) *contracts.DeviceTelemetry {
		return contracts.NewDeviceTelemetry(o, contracts.DeviceTelemetryPayload{DeviceID: "gw-1", Readings: readings})
	}
	tests := []struct {
		name string
		m    *contracts.DeviceTelemetry
		want string // the output, or the error text when kind is set
		kind error
	}{
		{"one reading", telemetry(reading("s", "temperature", 21.5)), `{"temperature":21.5}`, nil},
		{"sorted by name", telemetry(reading("s", "temperature", 21.5), reading("s", "humidity", 40), reading("cpu", "load", 0.25)),
			`{"humidity":40,"load":0.25,"temperature":21.5}`, nil},
		{"numbers", telemetry(reading("s", "big", 1e21), reading("s", "small", 1e-7), reading("s", "negative", -3), reading("s", "max", math.MaxFloat64)),
			`{"big":1e+21,"max":1.7976931348623157e+308,"negative":-3,"small":1e-7}`, nil},
		{"same metric of two sensors", telemetry(reading("bme280", "temperature", 21.5), reading("cpu", "load", 1), reading("cpu", "temperature", 48)),
			`payload.readings[2].metric: "temperature" is also the metric of payload.readings[0]`, legacy.ErrDuplicateMetric},
		{"same metric is an invalid value", telemetry(reading("s", "t", 1), reading("s", "t", 2)),
			`payload.readings[1].metric: "t"`, contracts.ErrInvalidValue},
		{"invalid message", telemetry(), "payload.readings: required", contracts.ErrRequired},
		{"not finite", telemetry(reading("s", "t", math.Inf(1))), "payload.readings[0].value: not a finite number", contracts.ErrInvalidValue},
		{"invalid UTF-8", telemetry(reading("s", "t\xff", 1)), "invalid UTF-8", contracts.ErrInvalidValue},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := legacy.EncodeTelemetry(tc.m)
			if tc.kind != nil {
				if !checkError(err, "legacy: encode telemetry: ", errorCase{kind: tc.kind, text: tc.want}) {
					t.Errorf("EncodeTelemetry(%+v) = %s, %v; want %v containing %q", tc.m.Payload, b, err, tc.kind, tc.want)
				}
				return
			}
			if err != nil || string(b) != tc.want {
				t.Errorf("EncodeTelemetry(%+v) = %s, %v; want %s", tc.m.Payload, b, err, tc.want)
			}
		})
	}
}

func TestTelemetryRoundTrip(t *testing.T) {
	o := deviceOrigin()
	units := map[string]string{"temperature": "Cel", "humidity": "%", "pressure": "hPa"}
	opts := legacy.TelemetryOptions{DeviceID: "gw-0042", Sensor: "bme280", Units: units}
	t.Run("legacy to v1 to legacy", func(t *testing.T) {
		for _, tc := range []struct{ input, want string }{
			{string(readFile(t, "telemetry.json")), ""},
			{`{"a":1e3,"b":-0.125,"c":0}`, ""},
			// Ignored members are not written back.
			{`{"temperature":21.5,"firmware":"1.4.2","ok":true}`, `{"temperature":21.5}`},
		} {
			t.Run(tc.input, func(t *testing.T) {
				m, _, err := legacy.DecodeTelemetry([]byte(tc.input), o, opts)
				if err != nil {
					t.Fatalf("DecodeTelemetry(%q) = %v; want no error", tc.input, err)
				}
				got, err := legacy.EncodeTelemetry(m)
				want := tc.want
				if want == "" {
					want = tc.input
				}
				if err != nil || !sameJSON(t, got, []byte(want)) {
					t.Errorf("EncodeTelemetry(DecodeTelemetry(%q)) = %s, %v; want %s", tc.input, got, err, want)
				}
			})
		}
	})
	t.Run("v1 to legacy to v1", func(t *testing.T) {
		// One sensor, one instant, readings sorted: what the legacy
		// format holds.
		m := contracts.NewDeviceTelemetry(o, contracts.DeviceTelemetryPayload{DeviceID: "gw-0042", Readings: []contracts.Reading{
			{Sensor: "bme280", Metric: "humidity", Value: 40.25, Unit: "%", At: now},
			{Sensor: "bme280", Metric: "pressure", Value: 1013.2, Unit: "hPa", At: now},
			{Sensor: "bme280", Metric: "temperature", Value: 21.5, Unit: "Cel", At: now},
		}})
		b, err := legacy.EncodeTelemetry(m)
		if err != nil {
			t.Fatalf("EncodeTelemetry(%+v) = %v; want no error", m.Payload, err)
		}
		got, ignored, err := legacy.DecodeTelemetry(b, o, legacy.TelemetryOptions{DeviceID: "gw-0042", Sensor: "bme280", At: now, Units: units})
		if err != nil {
			t.Fatalf("DecodeTelemetry(%s) = %v; want no error", b, err)
		}
		if len(ignored) != 0 || got.Payload.DeviceID != m.Payload.DeviceID || !slices.Equal(got.Payload.Readings, m.Payload.Readings) {
			t.Errorf("DecodeTelemetry(%s) = %+v, ignored %q; want %+v", b, got.Payload, ignored, m.Payload)
		}
	})
}
