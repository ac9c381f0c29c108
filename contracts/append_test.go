package contracts

import (
	"bytes"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// FuzzAppendersWriteWhatMarshalWrites: the hand-written encodings of
// device.telemetry, integration.mqtt.received and device.response.rpc
// are, byte for byte, json.Marshal's (the encoding every other message
// gets), and fail where it fails (invalid UTF-8, NaN, infinities, a
// result that is not one JSON value). The fuzzer's payload is also an
// answer's result, as raw JSON.
func FuzzAppendersWriteWhatMarshalWrites(f *testing.F) {
	f.Add("gw-1", "zone-0", "temperature", "Cel", 21.5, int64(1764238530123456789), "local/a/b", "hello", "", 1)
	f.Add("gw \"quoted\" \\ <b>&</b>", "ü\u2028\u2029\x7f", "\t\n\r\x00\x1f", "", math.Copysign(0, -1), int64(0), "+/#", "{\"w\":1}", "base64", 0)
	f.Add("bad \xff utf-8", "s", "m", "u", 1e-7, int64(-1), "t", "p", "utf8", 2)
	f.Add("g", "s", "m", "u", 1e21, int64(253402300799999999), "t", "\xc3\x28", "", 2)
	f.Add("g", "s", "m", "u", 123456789012345678901.0, int64(1), "t", "p", "", 1)
	f.Add("g", "s", "m", "u", 5e-324, int64(1), "t", "p", "", 1)
	f.Add("g", "s", "m", "u", math.MaxFloat64, int64(1), "t", "p", "", 1)
	f.Add("g", "s", "m", "u", math.NaN(), int64(1), "t", "p", "", 1)
	f.Add("g", "s", "m", "u", math.Inf(-1), int64(1), "t", "p", "", 1)
	f.Add("g", "s", "m", "u", 0.000001, int64(1), "t", "p", "", -7)
	f.Add("gw-1", "s", "getDeviceState", "success", 12.5, int64(1), "t", ` {"a": [1, 2.50, "\u00e9"], "b":{}} `, "", 0)
	f.Add("g", "s", "m", "u", 1.0, int64(1), "t", `{"a":1} {}`, "", 0)
	f.Add("0", "0", "0", "0", 3.333333333333333e+20, int64(1), "0", "", "0", -78) // a result empty, not nil
	f.Add("gw-1", "s", "getDeviceState", "success", 0.5, int64(1), "t", `{"a":"x y","b":[1.50,-0,1E2,{}],"c":"\u2028\/"}`, "", 0)
	f.Add("gw-1", "s", "getDeviceState", "success", 0.5, int64(1), "t", `{"a":"x y","b":[1.50,-0,1E2,{}],"c":"<\u00e9>","a":2}`, "", 0)
	f.Fuzz(func(t *testing.T, id, sensor, metric, unit string, value float64, nanos int64, topic, payload, encoding string, qos int) {
		at := time.Unix(0, nanos).In(time.FixedZone("X", 3600))
		h := Envelope{EventType: "e", CorrelationID: id + "-c", Timestamp: at, Source: Source{Type: SourceType(id), ID: id}, Version: metric}
		valid := Envelope{EventType: TypeDeviceResponseRPC, CorrelationID: "0b5c8a5e-1f2d-4c3b-9a7e-6d5f4e3c2b1a", Timestamp: at, Source: Source{Type: SourceDevice, ID: "gw-1"}, Version: Version}
		readings := []Reading{{Sensor: sensor, Metric: metric, Value: value, Unit: unit, At: at}, {Sensor: unit, Metric: sensor, Value: -value / 3, Unit: metric, At: at.Add(time.Millisecond)}}
		for _, m := range []Message{
			&DeviceTelemetry{Event{h}, DeviceTelemetryPayload{DeviceID: id, Readings: readings}},
			&DeviceTelemetry{Event{h}, DeviceTelemetryPayload{DeviceID: id}},
			&DeviceTelemetry{Event{h}, DeviceTelemetryPayload{DeviceID: id, Readings: readings[:1]}},
			&IntegrationMQTTReceived{Event{h}, IntegrationMQTTReceivedPayload{Topic: topic, Payload: payload, PayloadEncoding: Encoding(encoding), QoS: qos, ReceivedAt: at}},
			&DeviceResponseRPC{Response{Envelope: h, Status: ResponseStatus(unit)}, DeviceResponseRPCPayload{DeviceID: id, Method: metric, Result: jsontext.Value(payload), DurationMs: value}},
			&DeviceResponseRPC{Response{Envelope: h, Status: StatusError, Error: &ErrorInfo{Code: sensor, Message: topic}}, DeviceResponseRPCPayload{DeviceID: id, Method: metric, DurationMs: float64(qos)}},
			// One that passes check, but for its result perhaps.
			&DeviceResponseRPC{Response{Envelope: valid, Status: StatusSuccess}, DeviceResponseRPCPayload{DeviceID: "gw-1", Method: "getDeviceState", Result: jsontext.Value(payload), DurationMs: math.Abs(value)}},
		} {
			want, wantErr := json.Marshal(m, encodeOptions)
			got, err := EncodeUnchecked(m)
			switch {
			case (err != nil) != (wantErr != nil):
				t.Fatalf("%T: error %v; json.Marshal's %v", m, err, wantErr)
			case err == nil && !bytes.Equal(got, want):
				t.Fatalf("%T:\n got %s\nwant %s", m, got, want)
			}
			// Encode, which checks m first, writes the same: its raw
			// values may go as they are.
			if check(m) == nil {
				got, err := Encode(m)
				if (err != nil) != (wantErr != nil) || err == nil && !bytes.Equal(got, want) {
					t.Fatalf("%T: Encode = %s, %v; want %s (json.Marshal's error %v)", m, got, err, want, wantErr)
				}
			}
		}
	})
}

// TestAppendersKnowEveryField: the appenders write these members, in
// this order, and the types have no others. A field added to one of the
// types fails here until its appender writes it (the fuzz test alone
// would not see a field it never sets).
func TestAppendersKnowEveryField(t *testing.T) {
	for _, tc := range []struct {
		typ  reflect.Type
		want string
	}{
		{reflect.TypeFor[Envelope](), "eventType correlationId timestamp source __version"},
		{reflect.TypeFor[Source](), "type id"},
		{reflect.TypeFor[DeviceTelemetry](), "Event payload"},
		{reflect.TypeFor[DeviceTelemetryPayload](), "deviceId readings"},
		{reflect.TypeFor[Reading](), "sensor metric value unit at"},
		{reflect.TypeFor[IntegrationMQTTReceived](), "Event payload"},
		{reflect.TypeFor[IntegrationMQTTReceivedPayload](), "topic payload payloadEncoding qos receivedAt"},
		{reflect.TypeFor[Event](), "Envelope"},
		{reflect.TypeFor[DeviceResponseRPC](), "Response payload"},
		{reflect.TypeFor[Response](), "Envelope status error"},
		{reflect.TypeFor[ErrorInfo](), "code message"},
		{reflect.TypeFor[DeviceResponseRPCPayload](), "deviceId method result durationMs"},
	} {
		var names []string
		for f := range tc.typ.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" {
				name = f.Name
			}
			names = append(names, name)
		}
		if got := strings.Join(names, " "); got != tc.want {
			t.Errorf("%v has %q; the appenders write %q", tc.typ, got, tc.want)
		}
	}
}
