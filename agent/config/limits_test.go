package config_test

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/iot-hub/agent/agent/config"
	"github.com/iot-hub/agent/agent/sensors/drivers"
	"github.com/iot-hub/agent/internal/confkeys"
)

// keyLimits are the limits that a number key (a duration, a size or a
// whole number) written as 0, or as a negative value, is refused with:
// every such key of the configuration is here. "sensors[]" stands for
// any sensor, "registers[]" for any register.
var keyLimits = map[string]string{
	"uplink.mqtt.keepAlive":       "outside 1s..18h",
	"uplink.failoverAfter":        "outside 1s..1h",
	"uplink.mqtt.sessionExpiry":   "outside 1s..1191360h",
	"uplink.mqtt.window":          "outside 1..65535",
	"uplink.mqtt.backoffMin":      "below 1ms",
	"uplink.mqtt.backoffMax":      "below 1ms",
	"uplink.mqtt.connectTimeout":  "outside 1s..5m",
	"uplink.kafka.connectTimeout": "outside 1s..5m",
	"outbox.maxBytes":             "below 1MiB",
	"outbox.flushInterval":        "outside 0s..1m",
	"rpc.concurrency":             "outside 1..1024",
	"rpc.timeout":                 "below 1ms",
	"rpc.maxCommandBytes":         "outside 1KiB..1MiB",
	"rpc.rollbackAfter":           "below 1s",
	"update.maxBytes":             "outside 1MiB..1GiB",
	"log.ringBytes":               "outside 16KiB..16MiB",
	"certificates.retryMin":       "below 1s",
	"certificates.retryMax":       "below 1s",
	"certificates.tryTimeout":     "below 1s",
	"uplink.mqtt.embeddedBroker.integrate.maxMessageBytes": "outside 1B..1MiB",
	"uplink.mqtt.embeddedBroker.integrate.burstPerClient":  "outside 1..10000",
	"uplink.mqtt.embeddedBroker.integrate.burstTotal":      "outside 1..100000",
	"sensors[].interval":                 "outside 100ms..24h",
	"sensors[].timeout":                  "outside 1ms..interval",
	"sensors[].period":                   "below 1s",
	"sensors[].readDelay":                "outside 0s..interval",
	"sensors[].baud":                     "outside 50..4000000",
	"sensors[].dataBits":                 "outside 7..8",
	"sensors[].stopBits":                 "outside 1..2",
	"sensors[].slave":                    "outside 1..247",
	"sensors[].responseTimeout":          "outside 1ms..timeout",
	"sensors[].retries":                  "outside 0..10",
	"sensors[].registers[].function":     "outside 3..4",
	"sensors[].registers[].address":      "outside 0..65535",
	"sensors[].maxLineBytes":             "outside 16B..64KiB",
	"sensors[].maxOutputBytes":           "outside 1KiB..1MiB",
	"sensors[].dataRate":                 "outside 8..860",
	"sensors[].debounce":                 "outside 1ms..1s",
	"sensors[].address":                  "outside 0x76..0x77",
	"sensors[].oversampling.temperature": "outside 1..16",
	"sensors[].oversampling.pressure":    "outside 1..16",
	"sensors[].oversampling.humidity":    "outside 1..16",
	"sensors[].filter":                   "outside 0..16",
}

// zeroMeanings are the number keys whose 0 is a value of its own, not
// "the default", and what it means. Every other key refuses 0.
var zeroMeanings = map[string]string{
	"outbox.flushInterval":          "every append commits at once",
	"sensors[].readDelay":           "a read does not wait",
	"sensors[].retries":             "every request is sent once",
	"sensors[].registers[].address": "the first register",
	"sensors[].filter":              "the IIR filter is off",
}

// rawYAML is a value written into the YAML as it is: an integer in
// another notation (0x0), which the YAML library would quote.
type rawYAML string

// MarshalYAML returns r unquoted.
func (r rawYAML) MarshalYAML() ([]byte, error) { return []byte(r), nil }

// GoString returns r as written, for the names of subtests.
func (r rawYAML) GoString() string { return string(r) }

// TestZeroValues writes every number key of the configuration (a
// duration, a size or a whole number), found by reflection over
// config.Config, as 0 (in each way it can be written) and as a negative
// value, in an otherwise valid file. A key whose 0 has no meaning of its
// own refuses it, naming the key and its limits, instead of taking its
// default; a key whose 0 means something keeps it. The bottom and the
// top of a key's limits are accepted: the limit tag is not wider than
// the limits of its component's Validate, which Parse runs (those of the
// uplink, outbox, rpc and health sections), so that the tag's message is
// the one a user sees. Parse does not run the sensor drivers' checks:
// where a driver's limit is narrower than a tag, Validate checks it from
// the driver's package (modbus.MaxTimeout).
func TestZeroValues(t *testing.T) {
	keys := numberKeys(reflect.TypeFor[config.Config](), "", "")
	if len(keys) == 0 {
		t.Fatal("found no number key in config.Config")
	}
	found := map[string]bool{}
	for _, k := range keys {
		found[k.path] = true
		limit, ok := keyLimits[k.path]
		if !ok {
			t.Errorf("%s is a %s key missing from keyLimits: add its limits (and to zeroMeanings if 0 means something)", k.path, k.kind)
			continue
		}
		doc, at := docFor(k)
		zeros, zeroMsg, negative, negativeMsg := spellings(k.kind, limit)
		for _, zero := range zeros {
			t.Run(fmt.Sprintf("%s=%#v", k.path, zero), func(t *testing.T) {
				c, err := parseWith(t, doc, at, zero)
				if meaning, ok := zeroMeanings[k.path]; ok {
					if err != nil {
						t.Fatalf("Parse(%s: %v) = %v; want nil: 0 means %s", at, zero, err, meaning)
					}
					if got := valueAt(t, c, at); !got.IsZero() {
						t.Errorf("Parse(%s: %v) sets it to %v; want 0: %s", at, zero, got, meaning)
					}
					return
				}
				checkRefused(t, err, at, zero, zeroMsg)
			})
		}
		_, bounds, _ := strings.Cut(limit, " ") // "1s..18h", "1ms"
		bottom, top, _ := strings.Cut(bounds, "..")
		for _, b := range []struct{ value, end string }{{bottom, "bottom"}, {top, "top"}} {
			if b.value == "" || b.value[0] < '0' || b.value[0] > '9' {
				continue // no top, or another key's value
			}
			t.Run(fmt.Sprintf("%s=%s", k.path, b.value), func(t *testing.T) {
				var value any = b.value
				if k.kind == "integer" {
					value = rawYAML(b.value)
				}
				d := doc
				if after, ok := orderedAfter[k.path]; ok && b.end == "bottom" {
					d = with(doc, after, value) // its default would be above
				}
				if _, err := parseWith(t, d, at, value); err != nil {
					t.Errorf("Parse(%s: %s) = %v; want nil: %s is the %s of its limits", at, b.value, err, b.value, b.end)
				}
			})
		}
		t.Run(fmt.Sprintf("%s=%#v", k.path, negative), func(t *testing.T) {
			_, err := parseWith(t, doc, at, negative)
			checkRefused(t, err, at, negative, negativeMsg)
		})
	}
	for path := range keyLimits {
		if !found[path] {
			t.Errorf("keyLimits has %s, which is not a number key of config.Config", path)
		}
	}
	for path := range zeroMeanings {
		if !found[path] {
			t.Errorf("zeroMeanings has %s, which is not a number key of config.Config", path)
		}
	}
}

// orderedAfter are the keys that may not be below another key, by that
// key: their bottom is tried with the other key at its bottom too.
var orderedAfter = map[string]string{
	"uplink.mqtt.backoffMax": "uplink.mqtt.backoffMin",
	"certificates.retryMax":  "certificates.retryMin",
}

// spellings returns the ways a key of kind is written as 0 and the
// message that refuses them, unless 0 means something, and a negative
// value and the message that refuses it, for a key with limit ("outside
// 1..247").
func spellings(kind, limit string) (zeros []any, zeroMsg string, negative any, negativeMsg string) {
	switch {
	case kind == "duration":
		return []any{0, "0s", "0ms", "0h0m0s"}, "0s is " + limit, "-1s", "-1s is " + limit
	case kind == "size":
		return []any{0, "0", "0B", "0KiB"}, "0B is " + limit, -1, `size "-1" is out of range` // a size does not parse negative
	}
	zeros = []any{0, rawYAML("0x0"), rawYAML("-0"), rawYAML("0.0"), "0"}
	if strings.Contains(limit, "0x") { // said in hex
		return zeros, "0x0 is " + limit, -1, "-0x1 is " + limit
	}
	return zeros, "0 is " + limit, -1, "-1 is " + limit
}

// checkRefused fails t unless err is the *config.Error of the key at
// path, on its line, saying msg.
func checkRefused(t *testing.T, err error, path string, value any, msg string) {
	t.Helper()
	e, ok := errors.AsType[*config.Error](err)
	if !ok || !errors.Is(err, config.ErrInvalid) {
		t.Fatalf("Parse(%s: %v) = %v; want a config.Error wrapping ErrInvalid", path, value, err)
	}
	if e.Path != path || e.Msg != msg || e.Line == 0 {
		t.Errorf("Parse(%s: %v) = %v; want the key's line, path %s, message %q", path, value, err, path, msg)
	}
}

// key is a number key of the configuration.
type key struct {
	path       string // "outbox.maxBytes", "sensors[].period"
	kind       string // "duration", "size" or "integer"
	sensorType string // the first sensor type it belongs to; "" for all
}

// numberKeys lists the number keys (durations, sizes, whole numbers) of
// struct type t, whose keys are at prefix, following its mappings, lists
// and inline structs, and, for a list of sensors, the keys of every
// sensor type (drivers.NewKeys).
func numberKeys(t reflect.Type, prefix, sensorType string) []key {
	var keys []key
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			if strings.Contains(opts, "inline") && f.Type.Kind() == reflect.Struct {
				keys = append(keys, numberKeys(f.Type, prefix, sensorType)...)
			}
			continue // a sensor's type's keys: found below, by type
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
			if ft.Kind() == reflect.Slice {
				name += "[]"
			}
			ft = ft.Elem()
		}
		switch {
		case ft == reflect.TypeFor[time.Duration]():
			keys = append(keys, key{prefix + name, "duration", sensorType})
		case ft == reflect.TypeFor[confkeys.Size]():
			keys = append(keys, key{prefix + name, "size", sensorType})
		case ft.Kind() >= reflect.Int && ft.Kind() <= reflect.Uint64:
			keys = append(keys, key{prefix + name, "integer", sensorType})
		case ft == reflect.TypeFor[drivers.Sensor]():
			keys = append(keys, sensorKeys(prefix+name+".")...)
		case ft.Kind() == reflect.Struct:
			keys = append(keys, numberKeys(ft, prefix+name+".", sensorType)...)
		}
	}
	return keys
}

// sensorKeys lists the number keys of a sensor at prefix: those of every
// sensor, and those of each type, once, as of the first type that has
// them.
func sensorKeys(prefix string) []key {
	keys := numberKeys(reflect.TypeFor[drivers.Sensor](), prefix, "")
	seen := map[string]bool{}
	for _, typ := range drivers.Types() {
		serial, settings := drivers.NewKeys(typ)
		for _, v := range []any{serial, settings} {
			if reflect.ValueOf(v).IsNil() {
				continue
			}
			for _, k := range numberKeys(reflect.TypeOf(v).Elem(), prefix, typ) {
				if !seen[k.path] {
					seen[k.path] = true
					keys = append(keys, k)
				}
			}
		}
	}
	return keys
}

// validSensors are one valid sensor of each type.
var validSensors = []map[string]any{
	{"name": "sim", "type": "sim"},
	{"name": "board", "type": "thermal"},
	{"name": "boiler", "type": "modbus-rtu", "port": "/dev/ttyUSB0", "slave": 3,
		"registers": []any{map[string]any{"metric": "temperature", "address": 0}}},
	{"name": "mcu", "type": "serial-line", "port": "/dev/ttyACM0"},
	{"name": "weather", "type": "bme280"},
	{"name": "tank", "type": "ds18b20"},
	{"name": "room", "type": "sht4x"},
	{"name": "door", "type": "gpio-input", "line": "GPIO17"},
	{"name": "meter", "type": "gpio-counter", "line": "GPIO27"},
	{"name": "loop", "type": "ads1115", "channels": []any{map[string]any{"metric": "v", "input": "AIN0"}}},
	{"name": "script", "type": "exec", "command": []any{"/usr/local/bin/read-level"}},
}

// docFor returns a valid configuration in which k applies, and k's path
// in it: the Kafka uplink for uplink.kafka's keys, else the MQTT uplink;
// a sensor of every type, whose first register stands for any.
func docFor(k key) (map[string]any, string) {
	uplink := map[string]any{"mqtt": map[string]any{"broker": "mqtt://b:1883"}}
	if strings.HasPrefix(k.path, "uplink.kafka.") {
		uplink = map[string]any{"kafka": map[string]any{"brokers": []any{"k:9092"}}}
	}
	var sensors []any
	for _, s := range validSensors {
		sensors = append(sensors, s)
	}
	doc := map[string]any{"deviceId": "gw", "uplink": uplink, "sensors": sensors}
	i := slices.IndexFunc(validSensors, func(s map[string]any) bool { return s["type"] == k.sensorType })
	at := strings.Replace(k.path, "sensors[]", fmt.Sprintf("sensors[%d]", max(i, 0)), 1)
	return doc, strings.ReplaceAll(at, "[]", "[0]")
}

// parseWith parses doc with value written at path.
func parseWith(t *testing.T, doc map[string]any, path string, value any) (*config.Config, error) {
	t.Helper()
	b, err := yaml.Marshal(with(doc, path, value))
	if err != nil {
		t.Fatal(err)
	}
	return config.Parse(b, nil)
}

// with returns doc with value at path ("a.b", "sensors[2].c"), copying
// the mappings and lists on the way rather than changing doc.
func with(doc map[string]any, path string, value any) map[string]any {
	out := maps.Clone(doc)
	m := out
	segs := strings.Split(path, ".")
	for _, seg := range segs[:len(segs)-1] {
		name, idx, isList := strings.Cut(seg, "[")
		next := map[string]any{}
		if isList {
			i, _ := strconv.Atoi(strings.TrimSuffix(idx, "]"))
			list := slices.Clone(m[name].([]any))
			maps.Copy(next, list[i].(map[string]any))
			list[i] = next
			m[name] = list
		} else {
			if old, ok := m[name].(map[string]any); ok {
				maps.Copy(next, old)
			}
			m[name] = next
		}
		m = next
	}
	m[segs[len(segs)-1]] = value
	return out
}

// valueAt returns the field of c at path, found by the yaml tags, in
// inline fields too (a sensor's type's keys).
func valueAt(t *testing.T, c *config.Config, path string) reflect.Value {
	t.Helper()
	v := reflect.ValueOf(c).Elem()
	for seg := range strings.SplitSeq(path, ".") {
		name, idx, isList := strings.Cut(seg, "[")
		f, ok := fieldByKey(v, name)
		if !ok {
			t.Fatalf("%s: no field for %s", path, name)
		}
		v = f
		if isList {
			i, _ := strconv.Atoi(strings.TrimSuffix(idx, "]"))
			v = v.Index(i)
		}
		for v.Kind() == reflect.Pointer {
			v = v.Elem()
		}
	}
	return v
}

// fieldByKey returns the field of the struct v whose yaml tag is key, in
// v or in its inline fields (structs, or pointers or interfaces holding
// one).
func fieldByKey(v reflect.Value, key string) (reflect.Value, bool) {
	for i := range v.NumField() {
		name, opts, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ",")
		f := v.Field(i)
		if name == key {
			return f, true
		}
		if name != "" || !strings.Contains(opts, "inline") {
			continue
		}
		for f.Kind() == reflect.Pointer || f.Kind() == reflect.Interface {
			if f.IsNil() {
				break
			}
			f = f.Elem()
		}
		if f.Kind() == reflect.Struct {
			if found, ok := fieldByKey(f, key); ok {
				return found, true
			}
		}
	}
	return reflect.Value{}, false
}
