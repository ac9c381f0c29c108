package contracts_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/iot-hub/agent/contracts"
)

var (
	fixedNow = time.Date(2026, 11, 27, 10, 15, 30, 123456789, time.FixedZone("CET", 3600))
	device   = contracts.Origin{Source: contracts.Source{Type: contracts.SourceDevice, ID: "gw-0042"}, Clock: func() time.Time { return fixedNow }}
	backend  = contracts.Origin{Source: contracts.Source{Type: contracts.SourceBackend, ID: "api"}, Clock: func() time.Time { return fixedNow }}
)

func TestConstructorsFillTheEnvelope(t *testing.T) {
	m := contracts.NewDeviceStatusChanged(device, contracts.DeviceStatusChangedPayload{DeviceID: "gw-0042", Status: contracts.DeviceOnline})
	h := m.Header()
	if h.EventType != contracts.TypeDeviceStatusChanged || h.Version != "v1" || h.Source != device.Source {
		t.Errorf("header = %+v", h)
	}
	if want := fixedNow.UTC().Truncate(time.Millisecond); !h.Timestamp.Equal(want) || h.Timestamp.Location() != time.UTC {
		t.Errorf("Timestamp = %v; want %v in UTC", h.Timestamp, want)
	}
	if err := contracts.Validate(m); err != nil {
		t.Errorf("Validate(new message) = %v", err)
	}
	other := contracts.NewDeviceStatusChanged(device, m.Payload)
	if other.CorrelationID == h.CorrelationID {
		t.Errorf("two new flows share correlationId %s", h.CorrelationID)
	}
	b, err := contracts.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"timestamp":"2026-11-27T09:15:30.123Z"`) {
		t.Errorf("Encode = %s; want the timestamp in UTC with milliseconds", b)
	}
}

func TestResponsesCarryTheCommandsCorrelationID(t *testing.T) {
	cmd := contracts.NewDeviceCommandRPC(backend, contracts.DeviceCommandRPCPayload{DeviceID: "gw-0042", Method: contracts.MethodGetDeviceState, RequestedBy: "user-1"}, 5*time.Second)
	if got, want := cmd.ExpiresAt, cmd.Timestamp.Add(5*time.Second); !got.Equal(want) {
		t.Errorf("ExpiresAt = %v; want %v", got, want)
	}
	if cmd.Expired(fixedNow) || !cmd.Expired(fixedNow.Add(6*time.Second)) {
		t.Errorf("Expired is wrong around ExpiresAt %v", cmd.ExpiresAt)
	}
	ok := contracts.NewDeviceResponseRPC(device, cmd.Header(), contracts.DeviceResponseRPCPayload{DeviceID: "gw-0042", Method: string(cmd.Payload.Method), Result: []byte(`{"uptime":12}`)})
	bad := contracts.NewDeviceResponseRPCError(device, cmd.Header(), contracts.DeviceResponseRPCPayload{DeviceID: "gw-0042", Method: "reboot"}, contracts.CodeMethodNotFound, "no method reboot")
	for _, r := range []*contracts.DeviceResponseRPC{ok, bad} {
		if r.CorrelationID != cmd.CorrelationID {
			t.Errorf("response correlationId = %s; want the command's %s", r.CorrelationID, cmd.CorrelationID)
		}
		if err := contracts.Validate(r); err != nil {
			t.Errorf("Validate(%+v) = %v", r, err)
		}
	}
	if ok.Status != contracts.StatusSuccess || bad.Status != contracts.StatusError || bad.Error.Code != "METHOD_NOT_FOUND" {
		t.Errorf("statuses = %s, %s %+v", ok.Status, bad.Status, bad.Error)
	}
}

func TestValidateAndEncodeRefuseInvalidMessages(t *testing.T) {
	valid := func() *contracts.DeviceTelemetry {
		return contracts.NewDeviceTelemetry(device, contracts.DeviceTelemetryPayload{DeviceID: "gw-0042", Readings: []contracts.Reading{
			{Sensor: "sim", Metric: "temperature", Value: 21, Unit: "Cel", At: fixedNow},
		}})
	}
	for _, c := range []struct {
		name     string
		mutate   func(*contracts.DeviceTelemetry)
		wantPath string
		wantErr  error
	}{
		{"zero message", func(m *contracts.DeviceTelemetry) { *m = contracts.DeviceTelemetry{} }, "__version", contracts.ErrRequired},
		{"other version", func(m *contracts.DeviceTelemetry) { m.Version = "v2" }, "__version", contracts.ErrUnsupportedVersion},
		{"event type of another Go type", func(m *contracts.DeviceTelemetry) { m.EventType = contracts.TypeDeviceBound }, "eventType", contracts.ErrInvalidValue},
		{"no correlationId", func(m *contracts.DeviceTelemetry) { m.CorrelationID = "" }, "correlationId", contracts.ErrRequired},
		{"no timestamp", func(m *contracts.DeviceTelemetry) { m.Timestamp = time.Time{} }, "timestamp", contracts.ErrRequired},
		{"no source", func(m *contracts.DeviceTelemetry) { m.Source = contracts.Source{} }, "source.type", contracts.ErrRequired},
		{"NaN", func(m *contracts.DeviceTelemetry) { m.Payload.Readings[0].Value = math.NaN() }, "payload.readings[0].value", contracts.ErrInvalidValue},
		{"+Inf", func(m *contracts.DeviceTelemetry) { m.Payload.Readings[0].Value = math.Inf(1) }, "payload.readings[0].value", contracts.ErrInvalidValue},
		{"no readings", func(m *contracts.DeviceTelemetry) { m.Payload.Readings = nil }, "payload.readings", contracts.ErrRequired},
		{"no metric", func(m *contracts.DeviceTelemetry) { m.Payload.Readings[0].Metric = "" }, "payload.readings[0].metric", contracts.ErrRequired},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := valid()
			c.mutate(m)
			err := contracts.Validate(m)
			var e *contracts.Error
			if !errors.Is(err, c.wantErr) || !errors.As(err, &e) || e.Path != c.wantPath {
				t.Errorf("Validate = %v; want %v at %s", err, c.wantErr, c.wantPath)
			}
			if b, err := contracts.Encode(m); err == nil {
				t.Errorf("Encode = %s; want an error", b)
			}
		})
	}
}

func TestNewSystemDLQ(t *testing.T) {
	raw := []byte{0x00, 0xff, 0xfe, 'x'}
	cause := errors.New("not JSON")
	m := contracts.NewSystemDLQ(device, contracts.DLQMalformed, "iot/v1/devices/gw-0042/commands", raw, cause)
	if m.Payload.RawEncoding != contracts.EncodingBase64 {
		t.Errorf("RawEncoding = %q; want base64 for bytes that are not UTF-8", m.Payload.RawEncoding)
	}
	back, err := contracts.Bytes(m.Payload.Raw, m.Payload.RawEncoding)
	if err != nil || string(back) != string(raw) {
		t.Errorf("Bytes(Raw) = %q, %v; want %q", back, err, raw)
	}
	if m.Payload.Error != "not JSON" {
		t.Errorf("Error = %q", m.Payload.Error)
	}
	if err := contracts.Validate(m); err != nil {
		t.Errorf("Validate = %v", err)
	}

	// A dead letter for a command that was read far enough keeps its
	// correlationId, so the failure is traceable to its sender.
	in := patch(t, contracts.TypeDeviceCommandRPC, "payload.method", `7`)
	_, derr := contracts.Decode(in)
	m = contracts.NewSystemDLQ(device, contracts.DLQInvalid, "t", in, derr)
	if m.CorrelationID != "0b8e3f7c-5d1a-4c9e-9f0a-2f4b8c1d7e6a" || m.Payload.RawEncoding != "" || m.Payload.Raw != string(in) {
		t.Errorf("dead letter = %+v; want the command's correlationId and the raw text", m)
	}
}

func TestNewIntegrationMQTTReceived(t *testing.T) {
	m := contracts.NewIntegrationMQTTReceived(device, "plant/boiler", []byte("21.5"), 0, fixedNow)
	if m.Payload.Payload != "21.5" || m.Payload.PayloadEncoding != "" || m.Payload.QoS != 0 {
		t.Errorf("payload = %+v", m.Payload)
	}
	b, err := contracts.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	back, err := contracts.Decode(b)
	if err != nil {
		t.Fatalf("Decode(Encode(m)) = %v", err)
	}
	if got := back.(*contracts.IntegrationMQTTReceived).Payload; got.QoS != 0 || got.Payload != "21.5" {
		t.Errorf("round trip payload = %+v", got)
	}
}

func TestValidateRefusesUnwritableValues(t *testing.T) {
	cmd := contracts.NewDeviceCommandRPC(backend, contracts.DeviceCommandRPCPayload{DeviceID: "gw-0042", Method: contracts.MethodGetSensors, RequestedBy: "u", Params: []byte(`{"a":`)}, 0)
	if err := contracts.Validate(cmd); !errors.Is(err, contracts.ErrInvalidValue) {
		t.Errorf("Validate(params {\"a\":) = %v; want ErrInvalidValue", err)
	}
	resp := contracts.NewDeviceResponseRPC(device, cmd.Header(), contracts.DeviceResponseRPCPayload{DeviceID: "gw-0042", Method: "getSensors", Result: []byte(`[1,`)})
	if err := contracts.Validate(resp); !errors.Is(err, contracts.ErrInvalidValue) {
		t.Errorf("Validate(result [1,) = %v; want ErrInvalidValue", err)
	}
	late := time.Date(9999, 12, 31, 23, 59, 59, 0, time.FixedZone("", -23*3600))
	for name, m := range map[string]contracts.Message{
		"timestamp past 9999 in UTC": contracts.NewDeviceStatusChanged(contracts.Origin{Source: device.Source, Clock: func() time.Time { return late }}, contracts.DeviceStatusChangedPayload{DeviceID: "gw-0042", Status: contracts.DeviceOnline}),
		"reading before 1970":        contracts.NewDeviceTelemetry(device, contracts.DeviceTelemetryPayload{DeviceID: "gw-0042", Readings: []contracts.Reading{{Sensor: "s", Metric: "m", Unit: "", At: time.Unix(-1, 0)}}}),
		"expiresAt past 9999":        expiringIn(10000),
	} {
		if err := contracts.Validate(m); !errors.Is(err, contracts.ErrInvalidValue) {
			t.Errorf("Validate(%s) = %v; want ErrInvalidValue", name, err)
		}
	}
	// Read as written, then refused because UTC is past 9999.
	in := patch(t, contracts.TypeDeviceBound, "timestamp", `"9999-12-31T23:59:59-23:59"`)
	if _, err := contracts.Decode(in); !errors.Is(err, contracts.ErrInvalidValue) {
		t.Errorf("Decode(timestamp 9999-12-31T23:59:59-23:59) = %v; want ErrInvalidValue", err)
	}
}

// expiringIn returns a valid command that expires at the start of year.
func expiringIn(year int) *contracts.DeviceCommandRPC {
	m := contracts.NewDeviceCommandRPC(backend, contracts.DeviceCommandRPCPayload{DeviceID: "gw-0042", Method: contracts.MethodGetSensors, RequestedBy: "u"}, 0)
	m.ExpiresAt = time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC)
	return m
}
