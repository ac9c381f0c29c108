package legacy_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/contracts/legacy"
)

func TestDecodeCommand(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		want    contracts.DeviceCommandRPCPayload
		timeout time.Duration
	}{
		{"testdata command.json", string(readFile(t, "command.json")),
			contracts.DeviceCommandRPCPayload{DeviceID: "gw-0042", Method: contracts.MethodGetSensors, Params: []byte(`{"fresh":true}`), RequestedBy: legacy.RequestedBy},
			5 * time.Second},
		{"no params, other method", `{"method":"getDeviceState","deviceId":"gw-1","timeout":1000}`,
			contracts.DeviceCommandRPCPayload{DeviceID: "gw-1", Method: contracts.MethodGetDeviceState, RequestedBy: "legacy"},
			time.Second},
		{"null params", `{"method":"getSensors","deviceId":"gw-1","params":null}`,
			contracts.DeviceCommandRPCPayload{DeviceID: "gw-1", Method: contracts.MethodGetSensors, RequestedBy: "legacy"},
			legacy.DefaultTimeout},
		{"empty params", `{"method":"getSensors","deviceId":"gw-1","params":{}}`,
			contracts.DeviceCommandRPCPayload{DeviceID: "gw-1", Method: contracts.MethodGetSensors, Params: []byte(`{}`), RequestedBy: "legacy"},
			legacy.DefaultTimeout},
		{"unknown members are ignored", `{"id":17,"method":"getSensors","deviceId":"gw-1","requestedBy":"someone"}`,
			contracts.DeviceCommandRPCPayload{DeviceID: "gw-1", Method: contracts.MethodGetSensors, RequestedBy: "legacy"},
			legacy.DefaultTimeout},
	}
	o := bridgeOrigin()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := legacy.DecodeCommand([]byte(tc.input), o)
			if err != nil {
				t.Fatalf("DecodeCommand(%q) = %v; want no error", tc.input, err)
			}
			checkHeader(t, m, o, contracts.TypeDeviceCommandRPC)
			p := m.Payload
			if p.DeviceID != tc.want.DeviceID || p.Method != tc.want.Method || p.RequestedBy != tc.want.RequestedBy ||
				!bytes.Equal(p.Params, tc.want.Params) || !m.Timestamp.Equal(now) || !m.ExpiresAt.Equal(now.Add(tc.timeout)) {
				t.Errorf("DecodeCommand(%q) = %+v, timestamp %v, expiresAt %v; want %+v, timestamp %v, expiresAt %v",
					tc.input, p, m.Timestamp, m.ExpiresAt, tc.want, now, now.Add(tc.timeout))
			}
		})
	}
}

func TestDecodeCommandTimeout(t *testing.T) {
	tests := []struct {
		timeout string // the member's value, or "" for none
		want    time.Duration
		kind    error // the error's kind, nil when valid
		text    string
	}{
		{"", 5 * time.Second, nil, ""},
		{"null", 5 * time.Second, nil, ""},
		{"1000", time.Second, nil, ""},
		{"30000", 30 * time.Second, nil, ""},
		{"5000", 5 * time.Second, nil, ""},
		{"12345", 12345 * time.Millisecond, nil, ""},
		{"5000.0", 5 * time.Second, nil, ""},
		{"5e3", 5 * time.Second, nil, ""},
		{"50", 0, contracts.ErrInvalidValue, "legacy: decode command: timeout: 50 is outside 1000..30000 ms"},
		{"999", 0, contracts.ErrInvalidValue, "legacy: decode command: timeout: 999 is outside 1000..30000 ms"},
		{"30001", 0, contracts.ErrInvalidValue, "legacy: decode command: timeout: 30001 is outside 1000..30000 ms"},
		{"0", 0, contracts.ErrInvalidValue, "legacy: decode command: timeout: 0 is outside 1000..30000 ms"},
		{"-5000", 0, contracts.ErrInvalidValue, "legacy: decode command: timeout: -5000 is outside 1000..30000 ms"},
		{"1e400", 0, contracts.ErrInvalidValue, "legacy: decode command: timeout: 1e400 is outside 1000..30000 ms"},
		{"99999999999999999999999", 0, contracts.ErrInvalidValue, "legacy: decode command: timeout: 99999999999999999999999 is outside 1000..30000 ms"},
		{"1000.5", 0, contracts.ErrInvalidValue, "legacy: decode command: timeout: 1000.5 is not an integer number of milliseconds in 1000..30000 ms"},
		{`"5000"`, 0, contracts.ErrWrongType, "legacy: decode command: timeout: want integer number of milliseconds in 1000..30000 ms, got string"},
		{"true", 0, contracts.ErrWrongType, "legacy: decode command: timeout: want integer number of milliseconds in 1000..30000 ms, got boolean"},
		{"[5000]", 0, contracts.ErrWrongType, "legacy: decode command: timeout: want integer number of milliseconds in 1000..30000 ms, got array"},
	}
	for _, tc := range tests {
		name := tc.timeout
		if name == "" {
			name = "absent"
		}
		t.Run(name, func(t *testing.T) {
			input := `{"method":"getSensors","deviceId":"gw-1"}`
			if tc.timeout != "" {
				input = `{"method":"getSensors","deviceId":"gw-1","timeout":` + tc.timeout + `}`
			}
			m, err := legacy.DecodeCommand([]byte(input), bridgeOrigin())
			if tc.kind != nil {
				if err == nil || !errors.Is(err, tc.kind) || err.Error() != tc.text {
					t.Errorf("DecodeCommand(%q) = %v; want %v %q", input, err, tc.kind, tc.text)
				}
				return
			}
			if err != nil || m.ExpiresAt.Sub(m.Timestamp) != tc.want {
				t.Errorf("DecodeCommand(%q) = %+v, %v; want a timeout of %v", input, m, err, tc.want)
			}
		})
	}
}

func TestDecodeCommandErrors(t *testing.T) {
	tests := append(malformedCases[:len(malformedCases):len(malformedCases)], []errorCase{
		{"method missing", `{"deviceId":"gw-1"}`, contracts.ErrRequired, "method: required"},
		{"method empty", `{"method":"","deviceId":"gw-1"}`, contracts.ErrRequired, "method: required"},
		{"method number", `{"method":1,"deviceId":"gw-1"}`, contracts.ErrWrongType, "method: want string, got number"},
		{"method unknown", `{"method":"reboot","deviceId":"gw-1"}`, contracts.ErrUnknownMethod, `method: "reboot" is not one of getDeviceState, getSensors, getLogs, getConfig, restartAgent, setConfig, updateAgent`},
		{"method unknown is an invalid value", `{"method":"GetSensors","deviceId":"gw-1"}`, contracts.ErrInvalidValue, `method: "GetSensors" is not one of`},
		{"deviceId missing", `{"method":"getSensors"}`, contracts.ErrRequired, "deviceId: required"},
		{"deviceId object", `{"method":"getSensors","deviceId":{}}`, contracts.ErrWrongType, "deviceId: want string, got object"},
		{"params array", `{"method":"getSensors","deviceId":"gw-1","params":[1]}`, contracts.ErrWrongType, "params: want object, got array"},
		{"params string", `{"method":"getSensors","deviceId":"gw-1","params":"{}"}`, contracts.ErrWrongType, "params: want object, got string"},
		{"duplicate name in params", `{"method":"getSensors","deviceId":"gw-1","params":{"a":1,"a":2}}`, contracts.ErrMalformed, `duplicate object member name "a"`},
		{"first error wins", `{"method":"reboot","timeout":1}`, contracts.ErrUnknownMethod, `method: "reboot"`},
	}...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := legacy.DecodeCommand([]byte(tc.input), bridgeOrigin())
			if !checkError(err, "legacy: decode command: ", tc) || m != nil {
				t.Errorf("DecodeCommand(%q) = %v, %v; want nil, %v containing %q", tc.input, m, err, tc.kind, tc.text)
			}
		})
	}
	t.Run("origin without source", func(t *testing.T) {
		input := readFile(t, "command.json")
		m, err := legacy.DecodeCommand(input, contracts.Origin{})
		if err == nil || !errors.Is(err, contracts.ErrRequired) || m != nil {
			t.Errorf("DecodeCommand(%q, Origin{}) = %v, %v; want nil, an error that source.type is required", input, m, err)
		}
	})
}

// TestDecodeCommandOwnsParams checks that the command does not share
// memory with the input, which the caller may reuse.
func TestDecodeCommandOwnsParams(t *testing.T) {
	input := readFile(t, "command.json")
	m, err := legacy.DecodeCommand(input, bridgeOrigin())
	if err != nil {
		t.Fatalf("DecodeCommand(%q) = %v; want no error", input, err)
	}
	for i := range input {
		input[i] = ' '
	}
	if string(m.Payload.Params) != `{"fresh":true}` {
		t.Errorf("params after overwriting the input = %s; want {\"fresh\":true}", m.Payload.Params)
	}
}

func TestEncodeCommand(t *testing.T) {
	o := bridgeOrigin()
	// command returns a command that expires ttl after now.
	command := func(ttl time.Duration) *contracts.DeviceCommandRPC {
		m := contracts.NewDeviceCommandRPC(o, contracts.DeviceCommandRPCPayload{DeviceID: "gw-1", Method: contracts.MethodGetSensors, RequestedBy: "user-17"}, 0)
		m.ExpiresAt = now.Add(ttl)
		return m
	}
	noExpiry := func() *contracts.DeviceCommandRPC {
		m := command(0)
		m.ExpiresAt = time.Time{}
		return m
	}
	tests := []struct {
		name string
		m    *contracts.DeviceCommandRPC
		want string // the output, or the error text when kind is set
		kind error
	}{
		{"no expiresAt", noExpiry(), `{"method":"getSensors","deviceId":"gw-1","timeout":5000}`, nil},
		{"exact milliseconds", command(12345 * time.Millisecond), `{"method":"getSensors","deviceId":"gw-1","timeout":12345}`, nil},
		{"rounded up", command(1500*time.Millisecond + time.Microsecond), `{"method":"getSensors","deviceId":"gw-1","timeout":1501}`, nil},
		{"rounded up by a nanosecond", command(4999*time.Millisecond + 1), `{"method":"getSensors","deviceId":"gw-1","timeout":5000}`, nil},
		{"at the minimum", command(time.Second), `{"method":"getSensors","deviceId":"gw-1","timeout":1000}`, nil},
		{"below the minimum", command(999 * time.Millisecond), `{"method":"getSensors","deviceId":"gw-1","timeout":1000}`, nil},
		{"a nanosecond left", command(1), `{"method":"getSensors","deviceId":"gw-1","timeout":1000}`, nil},
		{"expiring now", command(0), `{"method":"getSensors","deviceId":"gw-1","timeout":1000}`, nil},
		{"at the maximum", command(30 * time.Second), `{"method":"getSensors","deviceId":"gw-1","timeout":30000}`, nil},
		{"above the maximum", command(time.Hour), `{"method":"getSensors","deviceId":"gw-1","timeout":30000}`, nil},
		{"far future", command(time.Duration(1<<63 - 1)), `{"method":"getSensors","deviceId":"gw-1","timeout":30000}`, nil},
		{"with params", func() *contracts.DeviceCommandRPC {
			m := noExpiry()
			m.Payload.Params = []byte(`{"sensors": ["bme280"]}`)
			return m
		}(), `{"method":"getSensors","deviceId":"gw-1","timeout":5000,"params":{"sensors":["bme280"]}}`, nil},
		{"expired", command(-time.Millisecond), "expiresAt: expired at 2026-11-27T10:15:30.122Z, before 2026-11-27T10:15:30.123Z", legacy.ErrExpired},
		{"expired is an invalid value", command(-time.Hour), "expiresAt: expired at", contracts.ErrInvalidValue},
		{"invalid message", func() *contracts.DeviceCommandRPC {
			m := command(0)
			m.Payload.Method = "reboot"
			return m
		}(), `payload.method: "reboot" is not one of`, contracts.ErrUnknownMethod},
		{"params not JSON", func() *contracts.DeviceCommandRPC {
			m := command(0)
			m.Payload.Params = []byte(`{"a":`)
			return m
		}(), "", contracts.ErrInvalidValue},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := legacy.EncodeCommand(tc.m, now)
			if tc.kind != nil {
				if !checkError(err, "legacy: encode command: ", errorCase{kind: tc.kind, text: tc.want}) {
					t.Errorf("EncodeCommand(%+v) = %s, %v; want %v containing %q", tc.m, b, err, tc.kind, tc.want)
				}
				return
			}
			if err != nil || string(b) != tc.want {
				t.Errorf("EncodeCommand(%+v) = %s, %v; want %s", tc.m, b, err, tc.want)
			}
		})
	}
}

func TestCommandRoundTrip(t *testing.T) {
	o := bridgeOrigin()
	t.Run("legacy to v1 to legacy", func(t *testing.T) {
		for _, input := range []string{
			string(readFile(t, "command.json")),
			`{"method":"getDeviceState","deviceId":"gw-1","timeout":1000}`,
			`{"method":"getSensors","deviceId":"gw-1","timeout":30000,"params":{"sensors":["bme280","cpu"],"nested":{"a":[1,2.5,null]}}}`,
		} {
			t.Run(input, func(t *testing.T) {
				m, err := legacy.DecodeCommand([]byte(input), o)
				if err != nil {
					t.Fatalf("DecodeCommand(%q) = %v; want no error", input, err)
				}
				got, err := legacy.EncodeCommand(m, now)
				if err != nil || !sameJSON(t, got, []byte(input)) {
					t.Errorf("EncodeCommand(DecodeCommand(%q)) = %s, %v; want the input", input, got, err)
				}
			})
		}
	})
	t.Run("v1 to legacy to v1", func(t *testing.T) {
		for _, ttl := range []time.Duration{time.Second, 5 * time.Second, 30 * time.Second} {
			t.Run(ttl.String(), func(t *testing.T) {
				m := contracts.NewDeviceCommandRPC(o, contracts.DeviceCommandRPCPayload{
					DeviceID: "gw-0042", Method: contracts.MethodGetSensors, Params: []byte(`{"fresh":true}`), RequestedBy: legacy.RequestedBy,
				}, ttl)
				b, err := legacy.EncodeCommand(m, now)
				if err != nil {
					t.Fatalf("EncodeCommand(%+v) = %v; want no error", m, err)
				}
				got, err := legacy.DecodeCommand(b, o)
				if err != nil || got.Payload.DeviceID != m.Payload.DeviceID || got.Payload.Method != m.Payload.Method ||
					got.Payload.RequestedBy != m.Payload.RequestedBy || !sameJSON(t, got.Payload.Params, m.Payload.Params) ||
					!got.ExpiresAt.Equal(m.ExpiresAt) {
					t.Errorf("DecodeCommand(%s) = %+v, %v; want %+v", b, got, err, m)
				}
			})
		}
	})
}
