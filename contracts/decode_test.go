package contracts_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/iot-hub/agent/contracts"
)

// wrongCase is one way a message can be wrong: the golden message of type
// et, with the member at path set to value (JSON text) or deleted.
type wrongCase struct {
	et       contracts.EventType
	path     string
	value    any // JSON text, or deleted
	wantPath string
	wantErr  error
}

// headerCases are the ways the envelope of any message can be wrong.
func headerCases(et contracts.EventType) []wrongCase {
	return []wrongCase{
		{et, "eventType", deleted, "eventType", contracts.ErrRequired},
		{et, "eventType", `"device.exploded"`, "eventType", contracts.ErrUnknownEventType},
		{et, "eventType", `42`, "eventType", contracts.ErrWrongType},
		{et, "correlationId", deleted, "correlationId", contracts.ErrRequired},
		{et, "correlationId", `"0b8e3f7c5d1a4c9e9f0a2f4b8c1d7e6a"`, "correlationId", contracts.ErrInvalidValue},
		{et, "correlationId", `{"id":"0b8e3f7c-5d1a-4c9e-9f0a-2f4b8c1d7e6a"}`, "correlationId", contracts.ErrWrongType},
		{et, "timestamp", deleted, "timestamp", contracts.ErrRequired},
		{et, "timestamp", `"2026-11-27 10:15:30"`, "timestamp", contracts.ErrInvalidValue},
		{et, "timestamp", `1764238530123`, "timestamp", contracts.ErrWrongType},
		{et, "source", deleted, "source", contracts.ErrRequired},
		{et, "source", `null`, "source", contracts.ErrWrongType},
		{et, "source", `"gw-0042"`, "source", contracts.ErrWrongType},
		{et, "source.type", `"robot"`, "source.type", contracts.ErrInvalidValue},
		{et, "source.id", `""`, "source.id", contracts.ErrRequired},
		{et, "__version", `"v2"`, "__version", contracts.ErrUnsupportedVersion},
		{et, "__version", `1`, "__version", contracts.ErrWrongType},
		{et, "payload", deleted, "payload", contracts.ErrRequired},
		{et, "payload", `null`, "payload", contracts.ErrWrongType},
		{et, "payload", `[]`, "payload", contracts.ErrWrongType},
		{et, "payload", `"{}"`, "payload", contracts.ErrWrongType},
	}
}

// payloadCases are the ways each type's own fields can be wrong.
var payloadCases = []wrongCase{
	{contracts.TypeDeviceCommandRPC, "expiresAt", `"in 5 seconds"`, "expiresAt", contracts.ErrInvalidValue},
	{contracts.TypeDeviceCommandRPC, "payload.deviceId", deleted, "payload.deviceId", contracts.ErrRequired},
	{contracts.TypeDeviceCommandRPC, "payload.deviceId", `17`, "payload.deviceId", contracts.ErrWrongType},
	{contracts.TypeDeviceCommandRPC, "payload.method", deleted, "payload.method", contracts.ErrRequired},
	{contracts.TypeDeviceCommandRPC, "payload.method", `"reboot"`, "payload.method", contracts.ErrUnknownMethod},
	{contracts.TypeDeviceCommandRPC, "payload.method", `"getsensors"`, "payload.method", contracts.ErrInvalidValue},
	{contracts.TypeDeviceCommandRPC, "payload.params", `["bme280"]`, "payload.params", contracts.ErrWrongType},
	{contracts.TypeDeviceCommandRPC, "payload.requestedBy", `""`, "payload.requestedBy", contracts.ErrRequired},

	{contracts.TypeDeviceResponseRPC, "status", deleted, "status", contracts.ErrRequired},
	{contracts.TypeDeviceResponseRPC, "status", `"ok"`, "status", contracts.ErrInvalidValue},
	{contracts.TypeDeviceResponseRPC, "status", `"error"`, "error", contracts.ErrRequired},
	{contracts.TypeDeviceResponseRPC, "error", `{"code":"TIMEOUT","message":"late"}`, "error", contracts.ErrInvalidValue},
	{contracts.TypeDeviceResponseRPC, "payload.method", deleted, "payload.method", contracts.ErrRequired},
	{contracts.TypeDeviceResponseRPC, "payload.deviceId", `null`, "payload.deviceId", contracts.ErrWrongType},
	{contracts.TypeDeviceResponseRPC, "payload.durationMs", `-1.5`, "payload.durationMs", contracts.ErrInvalidValue},
	{contracts.TypeDeviceResponseRPC, "payload.durationMs", `"12ms"`, "payload.durationMs", contracts.ErrWrongType},

	{contracts.TypeDeviceTelemetry, "payload.readings", `[]`, "payload.readings", contracts.ErrRequired},
	{contracts.TypeDeviceTelemetry, "payload.readings", `{"temperature":21.5}`, "payload.readings", contracts.ErrWrongType},
	{contracts.TypeDeviceTelemetry, "payload.readings[1].value", deleted, "payload.readings[1].value", contracts.ErrRequired},
	{contracts.TypeDeviceTelemetry, "payload.readings[1].value", `"40.25"`, "payload.readings[1].value", contracts.ErrWrongType},
	{contracts.TypeDeviceTelemetry, "payload.readings[1].value", `1e400`, "payload.readings[1].value", contracts.ErrInvalidValue},
	{contracts.TypeDeviceTelemetry, "payload.readings[2].unit", deleted, "payload.readings[2].unit", contracts.ErrRequired},
	{contracts.TypeDeviceTelemetry, "payload.readings[0].at", `"2026-02-30T00:00:00Z"`, "payload.readings[0].at", contracts.ErrInvalidValue},
	{contracts.TypeDeviceTelemetry, "payload.readings[0].sensor", `""`, "payload.readings[0].sensor", contracts.ErrRequired},
	{contracts.TypeDeviceTelemetry, "payload.readings[0]", `21.5`, "payload.readings[0]", contracts.ErrWrongType},
	{contracts.TypeDeviceTelemetry, "payload.readings[0]", `null`, "payload.readings[0]", contracts.ErrWrongType},
	{contracts.TypeDeviceTelemetry, "payload.readings[0].value", `null`, "payload.readings[0].value", contracts.ErrWrongType},
	{contracts.TypeDeviceTelemetry, "payload.readings[0].sensor", `5`, "payload.readings[0].sensor", contracts.ErrWrongType},
	{contracts.TypeDeviceTelemetry, "payload.readings[0].at", `null`, "payload.readings[0].at", contracts.ErrWrongType},
	{contracts.TypeDeviceTelemetry, "payload.readings[0].at", `"1969-12-31T23:59:59Z"`, "payload.readings[0].at", contracts.ErrInvalidValue},

	{contracts.TypeDeviceStatusChanged, "payload.status", `"sideways"`, "payload.status", contracts.ErrInvalidValue},
	{contracts.TypeDeviceStatusChanged, "payload.status", deleted, "payload.status", contracts.ErrRequired},
	{contracts.TypeDeviceStatusChanged, "payload.reason", `5`, "payload.reason", contracts.ErrWrongType},
	{contracts.TypeDeviceStatusChanged, "payload.reason", `null`, "payload.reason", contracts.ErrWrongType},

	{contracts.TypeDeviceBound, "payload.userId", deleted, "payload.userId", contracts.ErrRequired},
	{contracts.TypeDeviceBound, "payload.boundAt", deleted, "payload.boundAt", contracts.ErrRequired},
	{contracts.TypeDeviceUnbound, "payload.unboundAt", `"2026"`, "payload.unboundAt", contracts.ErrInvalidValue},

	{contracts.TypeCertificateCommandRotate, "payload.deviceId", deleted, "payload.deviceId", contracts.ErrRequired},
	{contracts.TypeCertificateCommandRotate, "expiresAt", `true`, "expiresAt", contracts.ErrWrongType},
	{contracts.TypeCertificateCSRCreated, "payload.csrPem", deleted, "payload.csrPem", contracts.ErrRequired},
	{contracts.TypeCertificateCSRCreated, "payload.reason", `""`, "payload.reason", contracts.ErrRequired},
	{contracts.TypeCertificateIssued, "payload.notAfter", deleted, "payload.notAfter", contracts.ErrRequired},
	{contracts.TypeCertificateIssued, "payload.serialNumber", `1234`, "payload.serialNumber", contracts.ErrWrongType},
	{contracts.TypeCertificateInstalled, "payload.serialNumber", deleted, "payload.serialNumber", contracts.ErrRequired},
	{contracts.TypeCertificateRotationFailed, "payload.reason", deleted, "payload.reason", contracts.ErrRequired},

	{contracts.TypeUserCreated, "payload.userId", deleted, "payload.userId", contracts.ErrRequired},
	{contracts.TypeUserUpdated, "payload.email", `false`, "payload.email", contracts.ErrWrongType},
	{contracts.TypeUserDeleted, "payload.userId", `""`, "payload.userId", contracts.ErrRequired},

	{contracts.TypeIntegrationMQTTReceived, "payload.qos", deleted, "payload.qos", contracts.ErrRequired},
	{contracts.TypeIntegrationMQTTReceived, "payload.qos", `3`, "payload.qos", contracts.ErrInvalidValue},
	{contracts.TypeIntegrationMQTTReceived, "payload.qos", `1.5`, "payload.qos", contracts.ErrInvalidValue},
	{contracts.TypeIntegrationMQTTReceived, "payload.payload", deleted, "payload.payload", contracts.ErrRequired},
	{contracts.TypeIntegrationMQTTReceived, "payload.payloadEncoding", `"hex"`, "payload.payloadEncoding", contracts.ErrInvalidValue},

	{contracts.TypeDeviceStatusChanged, "payload.connection", `0`, "payload.connection", contracts.ErrInvalidValue},
	{contracts.TypeDeviceStatusChanged, "payload.connection", `-1`, "payload.connection", contracts.ErrInvalidValue},
	{contracts.TypeDeviceStatusChanged, "payload.connection", `2.5`, "payload.connection", contracts.ErrInvalidValue},
	{contracts.TypeDeviceStatusChanged, "payload.connection", `9007199254740992`, "payload.connection", contracts.ErrInvalidValue},
	{contracts.TypeDeviceStatusChanged, "payload.connection", `"3"`, "payload.connection", contracts.ErrWrongType},

	{contracts.TypeSystemDLQ, "payload.raw", deleted, "payload.raw", contracts.ErrRequired},
	{contracts.TypeSystemDLQ, "payload.rawEncoding", `"base64"`, "payload.raw", contracts.ErrInvalidValue},
	{contracts.TypeSystemDLQ, "payload.reason", deleted, "payload.reason", contracts.ErrRequired},
}

func TestDecodeRejects(t *testing.T) {
	var cases []wrongCase
	for _, et := range contracts.EventTypes() {
		cases = append(cases, headerCases(et)...)
	}
	cases = append(cases, payloadCases...)
	for _, c := range cases {
		what := "deleted"
		if c.value != deleted {
			what = "=" + c.value.(string)
		}
		t.Run(fmt.Sprintf("%s/%s%s", c.et, c.path, what), func(t *testing.T) {
			in := patch(t, c.et, c.path, c.value)
			m, err := contracts.Decode(in)
			if m != nil || !errors.Is(err, c.wantErr) {
				t.Fatalf("Decode(%s) = %v, %v; want error %v", in, m, err, c.wantErr)
			}
			var e *contracts.Error
			if !errors.As(err, &e) {
				t.Fatalf("Decode error %T is not a *contracts.Error", err)
			}
			if e.Path != c.wantPath {
				t.Errorf("Decode error path = %q (%v); want %q", e.Path, err, c.wantPath)
			}
			if !strings.HasPrefix(err.Error(), "contracts: "+c.wantPath+": ") {
				t.Errorf("Decode error = %q; want it to name %q", err, c.wantPath)
			}
			if e.Header == nil {
				t.Fatalf("Decode error has no header; want the envelope as read")
			}
			if c.path != "correlationId" && e.Header.CorrelationID == "" {
				t.Errorf("Decode error header has no correlationId; a command could not be answered")
			}
		})
	}
}

// TestDecodeWrongPayloadForType gives each type the payload of another
// type that lacks one of its required fields. (A payload that has every
// required field and more is valid: unknown members are ignored.)
func TestDecodeWrongPayloadForType(t *testing.T) {
	for _, et := range contracts.EventTypes() {
		other := contracts.TypeUserDeleted // {userId}: no deviceId, topic, reason...
		if strings.HasPrefix(string(et), "user.") {
			other = contracts.TypeDeviceTelemetry
		}
		t.Run(string(et)+"/payload-of-"+string(other), func(t *testing.T) {
			m, err := contracts.Decode(golden(t, other))
			if err != nil {
				t.Fatal(err)
			}
			in := patch(t, et, "payload", string(mustPayloadJSON(t, m)))
			if m, err := contracts.Decode(in); err == nil {
				t.Fatalf("Decode(%s) = %T; want an error", in, m)
			} else if e := (*contracts.Error)(nil); !errors.As(err, &e) || !strings.HasPrefix(e.Path, "payload.") {
				t.Errorf("Decode(%s) error = %v; want one naming a payload field", in, err)
			}
		})
	}
}

func mustPayloadJSON(t *testing.T, m contracts.Message) []byte {
	t.Helper()
	b, err := contracts.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(b), `"payload":`)
	return b[i+len(`"payload":`) : len(b)-1]
}

func TestDecodeMalformed(t *testing.T) {
	tel := string(golden(t, contracts.TypeDeviceTelemetry))
	for _, c := range []struct {
		name, in string
		wantErr  error
	}{
		{"empty", ``, contracts.ErrMalformed},
		{"whitespace", " \n", contracts.ErrMalformed},
		{"truncated", tel[:len(tel)/2], contracts.ErrMalformed},
		{"trailing data", tel + `{}`, contracts.ErrMalformed},
		{"two objects", `{}{}`, contracts.ErrMalformed},
		{"array", `[` + tel + `]`, contracts.ErrMalformed},
		{"string", `"device.telemetry"`, contracts.ErrMalformed},
		{"null", `null`, contracts.ErrMalformed},
		{"invalid UTF-8", strings.Replace(tel, "gw-0042", "gw-\xff", 1), contracts.ErrMalformed},
		{"duplicate member", strings.Replace(tel, `"eventType": "device.telemetry",`, `"eventType": "device.telemetry", "eventType": "device.bound",`, 1), contracts.ErrMalformed},
		{"duplicate nested member", strings.Replace(tel, `"deviceId": "gw-0042",`, `"deviceId": "gw-0042", "deviceId": "gw-0043",`, 1), contracts.ErrMalformed},
		{"single quotes", `{'eventType': 'device.telemetry'}`, contracts.ErrMalformed},
		{"trailing comma", `{"eventType": "device.telemetry",}`, contracts.ErrMalformed},
		{"no version, no type", `{}`, contracts.ErrRequired},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, err := contracts.Decode([]byte(c.in))
			if m != nil || !errors.Is(err, c.wantErr) {
				t.Fatalf("Decode(%.60q) = %v, %v; want %v", c.in, m, err, c.wantErr)
			}
		})
	}
	// Every type, cut short at every tenth of its length.
	for _, et := range contracts.EventTypes() {
		in := golden(t, et)
		for i := 1; i < 10; i++ {
			cut := in[:len(in)*i/10]
			if m, err := contracts.Decode(cut); m != nil || !errors.Is(err, contracts.ErrMalformed) {
				t.Errorf("Decode(%s cut at %d/10) = %v, %v; want ErrMalformed", et, i, m, err)
			}
		}
	}
}

func TestDecodeAccepts(t *testing.T) {
	for _, c := range []struct {
		name       string
		et         contracts.EventType
		path       string
		value      any
		wantHeader func(*contracts.Envelope) bool
	}{
		{"missing version reads as v1", contracts.TypeDeviceTelemetry, "__version", deleted,
			func(h *contracts.Envelope) bool { return h.Version == contracts.Version }},
		{"unknown top-level member", contracts.TypeDeviceTelemetry, "traceparent", `"00-abc-01"`, nil},
		{"unknown payload member", contracts.TypeDeviceCommandRPC, "payload.priority", `"high"`, nil},
		{"unknown nested member", contracts.TypeDeviceTelemetry, "payload.readings[0].quality", `"good"`, nil},
		{"offset timestamp", contracts.TypeDeviceBound, "timestamp", `"2026-11-27T11:15:30.123456+01:00"`,
			func(h *contracts.Envelope) bool { return h.Timestamp.UTC().Hour() == 10 }},
		{"upper-case UUID", contracts.TypeDeviceBound, "correlationId", `"0B8E3F7C-5D1A-4C9E-9F0A-2F4B8C1D7E6A"`, nil},
		{"case-different name is unknown", contracts.TypeDeviceTelemetry, "EventType", `"device.bound"`, nil},
		{"zero value reading", contracts.TypeDeviceTelemetry, "payload.readings[0].value", `0`, nil},
		{"qos 0", contracts.TypeIntegrationMQTTReceived, "payload.qos", `0`, nil},
		{"qos 1.0", contracts.TypeIntegrationMQTTReceived, "payload.qos", `1.0`, nil},
		{"connection absent, as before it existed", contracts.TypeDeviceStatusChanged, "payload.connection", deleted, nil},
		{"connection 3.0", contracts.TypeDeviceStatusChanged, "payload.connection", `3.0`, nil},
		{"status on an event is unknown", contracts.TypeDeviceBound, "status", `42`, nil},
		{"expiresAt on a response is unknown", contracts.TypeDeviceResponseRPC, "expiresAt", `"soon"`, nil},
		{"the first second of 1970", contracts.TypeDeviceBound, "payload.boundAt", `"1970-01-01T00:00:00Z"`, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := patch(t, c.et, c.path, c.value)
			m, err := contracts.Decode(in)
			if err != nil {
				t.Fatalf("Decode(%s) = %v; want success", in, err)
			}
			if m.Header().EventType != c.et {
				t.Errorf("Decode(%s) type = %s; want %s", in, m.Header().EventType, c.et)
			}
			if c.wantHeader != nil && !c.wantHeader(m.Header()) {
				t.Errorf("Decode(%s) header = %+v; not as wanted", in, m.Header())
			}
		})
	}
}

// TestDecodePayloadFirst checks that member order does not matter: a
// payload before its eventType is decoded the same way.
func TestDecodePayloadFirst(t *testing.T) {
	for _, et := range contracts.EventTypes() {
		t.Run(string(et), func(t *testing.T) {
			want, err := contracts.Decode(golden(t, et))
			if err != nil {
				t.Fatal(err)
			}
			wantJSON, _ := contracts.Encode(want)
			payload := mustPayloadJSON(t, want)
			rest := strings.Replace(string(wantJSON), `,"payload":`+string(payload), "", 1)
			in := `{"payload":` + string(payload) + `,` + rest[1:]
			got, err := contracts.Decode([]byte(in))
			if err != nil {
				t.Fatalf("Decode(%s) = %v", in, err)
			}
			gotJSON, _ := contracts.Encode(got)
			if string(gotJSON) != string(wantJSON) {
				t.Errorf("Decode(payload first) = %s; want %s", gotJSON, wantJSON)
			}
		})
	}
}

// TestDecodeErrorCarriesMessage checks what a dispatcher needs to answer a
// command that failed validation.
func TestDecodeErrorCarriesMessage(t *testing.T) {
	in := patch(t, contracts.TypeDeviceCommandRPC, "payload.method", `"reboot"`)
	_, err := contracts.Decode(in)
	var e *contracts.Error
	if !errors.As(err, &e) {
		t.Fatalf("Decode = %v; want a *contracts.Error", err)
	}
	cmd, ok := e.Message.(*contracts.DeviceCommandRPC)
	if !ok {
		t.Fatalf("Error.Message = %T; want *contracts.DeviceCommandRPC", e.Message)
	}
	if cmd.Payload.Method != "reboot" || cmd.Payload.DeviceID != "gw-0042" || cmd.CorrelationID != "0b8e3f7c-5d1a-4c9e-9f0a-2f4b8c1d7e6a" {
		t.Errorf("Error.Message = %+v; want the command as read", cmd)
	}
	if e.Header.CorrelationID != cmd.CorrelationID {
		t.Errorf("Error.Header.CorrelationID = %q; want %q", e.Header.CorrelationID, cmd.CorrelationID)
	}

	_, err = contracts.Decode(patch(t, contracts.TypeDeviceCommandRPC, "eventType", `"device.command.reboot"`))
	if !errors.As(err, &e) || e.Message != nil || e.Header == nil || e.Header.CorrelationID == "" {
		t.Errorf("Decode(unknown type) error = %#v; want a header with the correlationId and no message", err)
	}
}

// TestDecodeEscapedNames checks that member names are compared after JSON
// unescaping, in the reading fast path as elsewhere.
func TestDecodeEscapedNames(t *testing.T) {
	in := strings.NewReplacer(`"sensor"`, `"\u0073ensor"`, `"eventType"`, `"event\u0054ype"`).
		Replace(string(golden(t, contracts.TypeDeviceTelemetry)))
	m, err := contracts.Decode([]byte(in))
	if err != nil {
		t.Fatalf("Decode(%s) = %v", in, err)
	}
	if got := m.(*contracts.DeviceTelemetry).Payload.Readings[2].Sensor; got != "bme280" {
		t.Errorf("Readings[2].Sensor = %q; want bme280", got)
	}
}

// TestDecodeDeepInputKeepsErrorsShort checks that input nested to the
// parser's limit gives an error of bounded size.
func TestDecodeDeepInputKeepsErrorsShort(t *testing.T) {
	in := `{"eventType":"device.command.rpc","payload":{"params":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}}`
	_, err := contracts.Decode([]byte(in))
	if !errors.Is(err, contracts.ErrMalformed) {
		t.Fatalf("Decode(20000 nested arrays) = %v; want ErrMalformed", err)
	}
	if n := len(err.Error()); n > 400 {
		t.Errorf("Decode(20000 nested arrays) error is %d bytes long: %.120s...", n, err)
	}
}
