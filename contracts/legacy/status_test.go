package legacy_test

import (
	"errors"
	"testing"
	"time"

	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/contracts/legacy"
)

func TestDecodeStatusChanged(t *testing.T) {
	at := time.Date(2026, 11, 27, 10, 15, 30, 123e6, time.UTC)
	tests := []struct {
		name   string
		input  string
		want   contracts.DeviceStatusChangedPayload
		wantAt time.Time
	}{
		{"testdata status.json", string(readFile(t, "status.json")),
			contracts.DeviceStatusChangedPayload{DeviceID: "gw-0042", Status: contracts.DeviceOnline, Reason: "connected"}, at},
		{"testdata status-epoch.json", string(readFile(t, "status-epoch.json")),
			contracts.DeviceStatusChangedPayload{DeviceID: "gw-0042", Status: contracts.DeviceOffline, Reason: "lost connection"}, at},
		{"RFC 3339 with offset is UTC",
			`{"type":"DeviceStatusChanged","deviceId":"gw-1","timestamp":"2026-11-27T11:15:30.123+01:00","payload":{"status":"online"}}`,
			contracts.DeviceStatusChangedPayload{DeviceID: "gw-1", Status: contracts.DeviceOnline}, at},
		{"RFC 3339 sub-millisecond is truncated",
			`{"type":"DeviceStatusChanged","deviceId":"gw-1","timestamp":"2026-11-27T10:15:30.123999999Z","payload":{"status":"online"}}`,
			contracts.DeviceStatusChangedPayload{DeviceID: "gw-1", Status: contracts.DeviceOnline}, at},
		{"RFC 3339 without fraction",
			`{"type":"DeviceStatusChanged","deviceId":"gw-1","timestamp":"2026-11-27T10:15:30Z","payload":{"status":"online"}}`,
			contracts.DeviceStatusChangedPayload{DeviceID: "gw-1", Status: contracts.DeviceOnline}, at.Truncate(time.Second)},
		{"epoch ms in exponent notation",
			`{"type":"DeviceStatusChanged","deviceId":"gw-1","timestamp":1.795774530123e12,"payload":{"status":"online"}}`,
			contracts.DeviceStatusChangedPayload{DeviceID: "gw-1", Status: contracts.DeviceOnline}, at},
		{"epoch 0",
			`{"type":"DeviceStatusChanged","deviceId":"gw-1","timestamp":0,"payload":{"status":"online"}}`,
			contracts.DeviceStatusChangedPayload{DeviceID: "gw-1", Status: contracts.DeviceOnline}, time.Unix(0, 0).UTC()},
		{"last epoch ms",
			`{"type":"DeviceStatusChanged","deviceId":"gw-1","timestamp":253402300799999,"payload":{"status":"online"}}`,
			contracts.DeviceStatusChangedPayload{DeviceID: "gw-1", Status: contracts.DeviceOnline},
			time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC)},
		{"null reason is absent",
			`{"type":"DeviceStatusChanged","deviceId":"gw-1","timestamp":"2026-11-27T10:15:30.123Z","payload":{"status":"offline","reason":null}}`,
			contracts.DeviceStatusChangedPayload{DeviceID: "gw-1", Status: contracts.DeviceOffline}, at},
		{"unknown members are ignored",
			`{"type":"DeviceStatusChanged","seq":7,"deviceId":"gw-1","timestamp":"2026-11-27T10:15:30.123Z","payload":{"status":"offline","rssi":-70},"extra":{"a":[1]}}`,
			contracts.DeviceStatusChangedPayload{DeviceID: "gw-1", Status: contracts.DeviceOffline}, at},
	}
	o := deviceOrigin()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := legacy.DecodeStatusChanged([]byte(tc.input), o)
			if err != nil {
				t.Fatalf("DecodeStatusChanged(%q) = %v; want no error", tc.input, err)
			}
			checkHeader(t, m, o, contracts.TypeDeviceStatusChanged)
			if m.Payload != tc.want || !m.Timestamp.Equal(tc.wantAt) || m.Timestamp.Location() != time.UTC {
				t.Errorf("DecodeStatusChanged(%q) = %+v at %v; want %+v at %v", tc.input, m.Payload, m.Timestamp, tc.want, tc.wantAt)
			}
		})
	}
}

func TestDecodeStatusChangedErrors(t *testing.T) {
	const (
		ts      = `"timestamp":"2026-11-27T10:15:30.123Z"`
		payload = `"payload":{"status":"online"}`
		head    = `{"type":"DeviceStatusChanged","deviceId":"gw-1",`
	)
	tests := append(malformedCases[:len(malformedCases):len(malformedCases)], []errorCase{
		{"type missing", `{"deviceId":"gw-1",` + ts + `,` + payload + `}`, legacy.ErrNotLegacy, `type: want "DeviceStatusChanged", got nothing`},
		{"type null", `{"type":null,"deviceId":"gw-1",` + ts + `,` + payload + `}`, legacy.ErrNotLegacy, `type: want "DeviceStatusChanged", got null`},
		{"type number", `{"type":3,"deviceId":"gw-1",` + ts + `,` + payload + `}`, contracts.ErrInvalidValue, `type: want "DeviceStatusChanged", got number`},
		{"type other", `{"type":"DeviceStatus","deviceId":"gw-1",` + ts + `,` + payload + `}`, legacy.ErrNotLegacy, `type: want "DeviceStatusChanged", got "DeviceStatus"`},
		{"v1 envelope", `{"eventType":"device.status.changed","correlationId":"5d7a9f8e-3b1c-4e2d-8a6f-1c2b3d4e5f60",` + ts + `,"source":{"type":"device","id":"gw-1"},"__version":"v1","payload":{"deviceId":"gw-1","status":"online"}}`, legacy.ErrNotLegacy, `type: want "DeviceStatusChanged", got nothing`},
		{"deviceId missing", `{"type":"DeviceStatusChanged",` + ts + `,` + payload + `}`, contracts.ErrRequired, "deviceId: required"},
		{"deviceId empty", `{"type":"DeviceStatusChanged","deviceId":"",` + ts + `,` + payload + `}`, contracts.ErrRequired, "deviceId: required"},
		{"deviceId number", `{"type":"DeviceStatusChanged","deviceId":42,` + ts + `,` + payload + `}`, contracts.ErrWrongType, "deviceId: want string, got number"},
		{"timestamp missing", head + payload + `}`, contracts.ErrRequired, "timestamp: required"},
		{"timestamp null", head + `"timestamp":null,` + payload + `}`, contracts.ErrRequired, "timestamp: required"},
		{"timestamp boolean", head + `"timestamp":true,` + payload + `}`, contracts.ErrWrongType, "timestamp: want RFC 3339 string or integer of epoch milliseconds, got boolean"},
		{"timestamp not RFC 3339", head + `"timestamp":"27/11/2026 10:15",` + payload + `}`, contracts.ErrInvalidValue, "timestamp: not an RFC 3339 date-time"},
		{"timestamp without zone", head + `"timestamp":"2026-11-27T10:15:30",` + payload + `}`, contracts.ErrInvalidValue, "timestamp: not an RFC 3339 date-time"},
		{"timestamp before 1970", head + `"timestamp":"1969-12-31T23:59:59.999Z",` + payload + `}`, contracts.ErrInvalidValue, `timestamp: "1969-12-31T23:59:59.999Z" is outside 1970-01-01T00:00:00.000Z..9999-12-31T23:59:59.999Z`},
		{"timestamp after 9999 in UTC", head + `"timestamp":"9999-12-31T23:59:59-01:00",` + payload + `}`, contracts.ErrInvalidValue, `timestamp: "9999-12-31T23:59:59-01:00" is outside`},
		{"epoch ms not an integer", head + `"timestamp":1795774530123.5,` + payload + `}`, contracts.ErrInvalidValue, "timestamp: 1795774530123.5 is not an integer number of milliseconds"},
		{"epoch ms negative", head + `"timestamp":-1,` + payload + `}`, contracts.ErrInvalidValue, "timestamp: -1 is outside"},
		{"epoch ms after 9999", head + `"timestamp":253402300800000,` + payload + `}`, contracts.ErrInvalidValue, "timestamp: 253402300800000 is outside"},
		{"epoch ms beyond float64", head + `"timestamp":1e400,` + payload + `}`, contracts.ErrInvalidValue, "timestamp: 1e400 is outside"},
		{"payload missing", head + ts + `}`, contracts.ErrRequired, "payload: required"},
		{"payload string", head + ts + `,"payload":"online"}`, contracts.ErrWrongType, "payload: want object, got string"},
		{"status missing", head + ts + `,"payload":{"reason":"connected"}}`, contracts.ErrRequired, "payload.status: required"},
		{"status unknown", head + ts + `,"payload":{"status":"sideways"}}`, contracts.ErrInvalidValue, `payload.status: "sideways" is not one of online, offline`},
		{"status boolean", head + ts + `,"payload":{"status":true}}`, contracts.ErrWrongType, "payload.status: want string, got boolean"},
		{"reason number", head + ts + `,"payload":{"status":"online","reason":1}}`, contracts.ErrWrongType, "payload.reason: want string, got number"},
		{"duplicate name in payload", head + ts + `,"payload":{"status":"online","status":"offline"}}`, contracts.ErrMalformed, `duplicate object member name "status"`},
		{"first error wins", `{"type":"DeviceStatusChanged","deviceId":1,"timestamp":true}`, contracts.ErrWrongType, "deviceId: want string, got number"},
	}...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := legacy.DecodeStatusChanged([]byte(tc.input), deviceOrigin())
			if !checkError(err, "legacy: decode status: ", tc) || m != nil {
				t.Errorf("DecodeStatusChanged(%q) = %v, %v; want nil, %v containing %q", tc.input, m, err, tc.kind, tc.text)
			}
		})
	}
	t.Run("origin without source", func(t *testing.T) {
		input := readFile(t, "status.json")
		m, err := legacy.DecodeStatusChanged(input, contracts.Origin{})
		if err == nil || !errors.Is(err, contracts.ErrRequired) || m != nil {
			t.Errorf("DecodeStatusChanged(%q, Origin{}) = %v, %v; want nil, an error that source.type is required", input, m, err)
		}
	})
}

func TestEncodeStatusChanged(t *testing.T) {
	o := deviceOrigin()
	valid := func(at time.Time) *contracts.DeviceStatusChanged {
		m := contracts.NewDeviceStatusChanged(o, contracts.DeviceStatusChangedPayload{DeviceID: "gw-1", Status: contracts.DeviceOnline})
		m.Timestamp = at
		return m
	}
	tests := []struct {
		name string
		m    *contracts.DeviceStatusChanged
		want string // the output, or the error text when kind is set
		kind error
	}{
		{"no reason", valid(now), `{"type":"DeviceStatusChanged","deviceId":"gw-1","timestamp":"2026-11-27T10:15:30.123Z","payload":{"status":"online"}}`, nil},
		{"timestamp in another zone, sub-millisecond",
			valid(time.Date(2026, 11, 27, 11, 15, 30, 123456789, time.FixedZone("CET", 3600))),
			`{"type":"DeviceStatusChanged","deviceId":"gw-1","timestamp":"2026-11-27T10:15:30.123Z","payload":{"status":"online"}}`, nil},
		// The legacy format has no place for the connection number.
		{"connection dropped", func() *contracts.DeviceStatusChanged {
			m := valid(now)
			m.Payload.Connection = 7
			return m
		}(), `{"type":"DeviceStatusChanged","deviceId":"gw-1","timestamp":"2026-11-27T10:15:30.123Z","payload":{"status":"online"}}`, nil},
		{"invalid message", contracts.NewDeviceStatusChanged(o, contracts.DeviceStatusChangedPayload{Status: contracts.DeviceOnline}),
			"payload.deviceId: required", contracts.ErrRequired},
		{"timestamp before 1970", valid(time.Date(1969, 7, 20, 20, 17, 0, 0, time.UTC)),
			`timestamp: date-time outside the years 1970 to 9999`, contracts.ErrInvalidValue},
		{"timestamp after 9999", valid(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)),
			`timestamp: date-time outside the years 1970 to 9999`, contracts.ErrInvalidValue},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := legacy.EncodeStatusChanged(tc.m)
			if tc.kind != nil {
				if !checkError(err, "legacy: encode status: ", errorCase{kind: tc.kind, text: tc.want}) {
					t.Errorf("EncodeStatusChanged(%+v) = %s, %v; want %v containing %q", tc.m, b, err, tc.kind, tc.want)
				}
				return
			}
			if err != nil || string(b) != tc.want {
				t.Errorf("EncodeStatusChanged(%+v) = %s, %v; want %s", tc.m, b, err, tc.want)
			}
		})
	}
}

func TestStatusChangedRoundTrip(t *testing.T) {
	o := deviceOrigin()
	t.Run("legacy to v1 to legacy", func(t *testing.T) {
		for _, tc := range []struct{ file, want string }{
			{"status.json", "status.json"},
			// An epoch timestamp comes back as RFC 3339.
			{"status-epoch.json", ""},
		} {
			t.Run(tc.file, func(t *testing.T) {
				input := readFile(t, tc.file)
				m, err := legacy.DecodeStatusChanged(input, o)
				if err != nil {
					t.Fatalf("DecodeStatusChanged(%q) = %v; want no error", input, err)
				}
				got, err := legacy.EncodeStatusChanged(m)
				want := input
				if tc.want == "" {
					want = []byte(`{"type":"DeviceStatusChanged","deviceId":"gw-0042","timestamp":"2026-11-27T10:15:30.123Z","payload":{"status":"offline","reason":"lost connection"}}`)
				}
				if err != nil || !sameJSON(t, got, want) {
					t.Errorf("EncodeStatusChanged(DecodeStatusChanged(%q)) = %s, %v; want %s", input, got, err, want)
				}
			})
		}
	})
	t.Run("v1 to legacy to v1", func(t *testing.T) {
		for _, p := range []contracts.DeviceStatusChangedPayload{
			{DeviceID: "gw-0042", Status: contracts.DeviceOnline, Reason: "connected"},
			{DeviceID: "gw-0042", Status: contracts.DeviceOffline},
		} {
			t.Run(string(p.Status), func(t *testing.T) {
				m := contracts.NewDeviceStatusChanged(o, p)
				m.Timestamp = time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC)
				b, err := legacy.EncodeStatusChanged(m)
				if err != nil {
					t.Fatalf("EncodeStatusChanged(%+v) = %v; want no error", m, err)
				}
				got, err := legacy.DecodeStatusChanged(b, o)
				if err != nil || got.Payload != m.Payload || !got.Timestamp.Equal(m.Timestamp) {
					t.Errorf("DecodeStatusChanged(%s) = %+v, %v; want %+v", b, got, err, m)
				}
			})
		}
	})
}
