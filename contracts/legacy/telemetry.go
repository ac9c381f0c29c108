package legacy

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/iot-hub/agent/contracts"
)

// TelemetryOptions says what a plain telemetry object does not: whose
// readings they are, of which sensor, when, and in which units.
type TelemetryOptions struct {
	// DeviceID is the device that published the object; it is required.
	DeviceID string
	// Sensor is the sensor of every reading; empty means DeviceID.
	Sensor string
	// At is when the values were read; zero means o.Now(). It is stored
	// in UTC, truncated to the millisecond, as the wire holds it.
	At time.Time
	// Units maps a metric to its unit; a metric not in it gets "".
	Units map[string]string
}

// DecodeTelemetry converts a plain telemetry object, such as
// {"temperature": 21.5, "humidity": 40}, into a device.telemetry event
// with a new correlationId, its source and timestamp from o. Every member
// whose value is a number gives one reading, metric the member's name, in
// the byte order of the names. Members of any other kind (string, boolean,
// null, object, array) are not read: their names are returned, sorted, in
// ignored, for the caller to log or count. An object without a number is
// an [ErrNoReadings] error; a number beyond the range of a float64, or
// with an empty name, is an error.
func DecodeTelemetry(data []byte, o contracts.Origin, opts TelemetryOptions) (m *contracts.DeviceTelemetry, ignored []string, err error) {
	m, ignored, err = decodeTelemetry(data, o, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("legacy: decode telemetry: %w", err)
	}
	return m, ignored, nil
}

func decodeTelemetry(data []byte, o contracts.Origin, opts TelemetryOptions) (*contracts.DeviceTelemetry, []string, error) {
	if opts.DeviceID == "" {
		return nil, nil, errRequired("TelemetryOptions.DeviceID")
	}
	var r reader
	obj := r.object("", data)
	if r.err != nil {
		return nil, nil, r.err
	}
	sensor := cmp.Or(opts.Sensor, opts.DeviceID)
	var (
		readings []contracts.Reading
		ignored  []string
	)
	for _, name := range slices.Sorted(maps.Keys(obj)) {
		v := obj[name]
		if v.Kind() != '0' {
			ignored = append(ignored, name)
			continue
		}
		value, ok := parseNumber(v)
		switch {
		case name == "":
			return nil, nil, newError(contracts.ErrRequired, `""`, "a number needs a member name to be a metric")
		case !ok:
			return nil, nil, newError(contracts.ErrInvalidValue, strconv.Quote(name), string(v)+" is beyond the range of a float64")
		}
		readings = append(readings, contracts.Reading{Sensor: sensor, Metric: name, Value: value, Unit: opts.Units[name]})
	}
	if len(readings) == 0 {
		return nil, nil, newError(ErrNoReadings, "", "no member has a number value ("+strconv.Itoa(len(ignored))+" ignored)")
	}
	m := contracts.NewDeviceTelemetry(o, contracts.DeviceTelemetryPayload{DeviceID: opts.DeviceID, Readings: readings})
	at := m.Timestamp
	if !opts.At.IsZero() {
		at = opts.At.UTC().Truncate(time.Millisecond)
	}
	for i := range m.Payload.Readings {
		m.Payload.Readings[i].At = at
	}
	if err := contracts.Validate(m); err != nil {
		return nil, nil, err
	}
	return m, ignored, nil
}

// EncodeTelemetry converts a device.telemetry event, which must be valid,
// into a plain telemetry object: one member per reading, its metric and
// its value, sorted by name. Two readings of one metric (of two sensors,
// or at two instants) are an [ErrDuplicateMetric] error. The device,
// sensors, units and instants are lost, and so are the correlationId, the
// source and the timestamp.
func EncodeTelemetry(m *contracts.DeviceTelemetry) ([]byte, error) {
	b, err := encodeTelemetry(m)
	if err != nil {
		return nil, fmt.Errorf("legacy: encode telemetry: %w", err)
	}
	return b, nil
}

func encodeTelemetry(m *contracts.DeviceTelemetry) ([]byte, error) {
	if err := contracts.Validate(m); err != nil {
		return nil, err
	}
	values := make(map[string]float64, len(m.Payload.Readings))
	first := make(map[string]int, len(m.Payload.Readings))
	for i, rd := range m.Payload.Readings {
		if j, ok := first[rd.Metric]; ok {
			return nil, newError(ErrDuplicateMetric, "payload.readings["+strconv.Itoa(i)+"].metric",
				strconv.Quote(rd.Metric)+" is also the metric of payload.readings["+strconv.Itoa(j)+"]")
		}
		first[rd.Metric] = i
		values[rd.Metric] = rd.Value
	}
	return marshal(values, json.Deterministic(true))
}
