package legacy_test

import (
	"errors"
	"testing"

	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/contracts/legacy"
)

// command returns the header of the command a legacy request was
// converted to, which a legacy response answers.
func command(t testing.TB) *contracts.Envelope {
	t.Helper()
	m, err := legacy.DecodeCommand(readFile(t, "command.json"), bridgeOrigin())
	if err != nil {
		t.Fatal(err)
	}
	return m.Header()
}

func TestDecodeResponse(t *testing.T) {
	tests := []struct {
		name   string
		input  string
		status contracts.ResponseStatus
		error  *contracts.ErrorInfo
		result string // "" for none
	}{
		{"testdata response-ok.json", string(readFile(t, "response-ok.json")), contracts.StatusSuccess, nil,
			`{"sensors":[{"name":"bme280","temperature":21.5,"humidity":40}]}`},
		{"testdata response-error.json", string(readFile(t, "response-error.json")), contracts.StatusError,
			&contracts.ErrorInfo{Code: "TIMEOUT", Message: "no answer in 5000 ms"}, ""},
		{"no result", `{"deviceId":"gw-0042","method":"getSensors","success":true}`, contracts.StatusSuccess, nil, ""},
		{"null error on success", `{"deviceId":"gw-0042","method":"getSensors","success":true,"error":null}`, contracts.StatusSuccess, nil, ""},
		{"failure with a result", `{"deviceId":"gw-0042","method":"getSensors","success":false,"result":{"partial":true},"error":{"code":"BUSY","message":"try later"}}`,
			contracts.StatusError, &contracts.ErrorInfo{Code: "BUSY", Message: "try later"}, `{"partial":true}`},
		{"unknown method and members", `{"deviceId":"gw-0042","method":"reboot","success":false,"error":{"code":"METHOD_NOT_FOUND","message":"no reboot","details":[1]},"seq":9}`,
			contracts.StatusError, &contracts.ErrorInfo{Code: "METHOD_NOT_FOUND", Message: "no reboot"}, ""},
	}
	o := deviceOrigin()
	cmd := command(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := legacy.DecodeResponse([]byte(tc.input), o, cmd)
			if err != nil {
				t.Fatalf("DecodeResponse(%q) = %v; want no error", tc.input, err)
			}
			checkHeader(t, m, o, contracts.TypeDeviceResponseRPC)
			if m.CorrelationID != cmd.CorrelationID {
				t.Errorf("DecodeResponse(%q).CorrelationID = %s; want the command's %s", tc.input, m.CorrelationID, cmd.CorrelationID)
			}
			gotErr, wantErr := "<nil>", "<nil>"
			if m.Error != nil {
				gotErr = m.Error.Code + " " + m.Error.Message
			}
			if tc.error != nil {
				wantErr = tc.error.Code + " " + tc.error.Message
			}
			if m.Status != tc.status || gotErr != wantErr || string(m.Payload.Result) != tc.result {
				t.Errorf("DecodeResponse(%q) = status %s, error %s, result %s; want %s, %s, %s",
					tc.input, m.Status, gotErr, m.Payload.Result, tc.status, wantErr, tc.result)
			}
		})
	}
}

// A legacy result is any JSON value; v1's is an object or absent. The rule
// of doc.go: an object is kept, null is absent, any other v is {"value": v}.
func TestDecodeResponseMapsResultToAnObject(t *testing.T) {
	const head = `{"deviceId":"gw-0042","method":"getSensors","success":true`
	tests := []struct {
		name, result, want string // result "" for none, want "" for none
	}{
		{"absent", "", ""},
		{"null", `null`, ""},
		{"object", `{"sensors":[]}`, `{"sensors":[]}`},
		{"empty object", `{}`, `{}`},
		{"array", `[1,2]`, `{"value":[1,2]}`},
		{"empty array", `[]`, `{"value":[]}`},
		{"string", `"done"`, `{"value":"done"}`},
		{"number", `42`, `{"value":42}`},
		{"boolean", `false`, `{"value":false}`},
	}
	o := deviceOrigin()
	cmd := command(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, tail := range []string{`}`, `,"error":null}`} {
				input := head + tail
				if tc.result != "" {
					input = head + `,"result":` + tc.result + tail
				}
				m, err := legacy.DecodeResponse([]byte(input), o, cmd)
				if err != nil {
					t.Fatalf("DecodeResponse(%s) = %v; want no error", input, err)
				}
				if got := string(m.Payload.Result); got != tc.want {
					t.Errorf("DecodeResponse(%s).Payload.Result = %q; want %q", input, got, tc.want)
				}
				if _, err := contracts.Encode(m); err != nil {
					t.Errorf("contracts.Encode(DecodeResponse(%s)) = %v; want a v1 message the backend accepts", input, err)
				}
			}
		})
	}
	t.Run("failure with an array result", func(t *testing.T) {
		input := `{"deviceId":"gw-0042","method":"getSensors","success":false,"result":[true],"error":{"code":"X","message":"y"}}`
		m, err := legacy.DecodeResponse([]byte(input), o, cmd)
		if err != nil || m.Status != contracts.StatusError || string(m.Payload.Result) != `{"value":[true]}` {
			t.Fatalf("DecodeResponse(%s) = %+v, %v; want status error, result {\"value\":[true]}", input, m, err)
		}
	})
}

func TestDecodeResponseErrors(t *testing.T) {
	const head = `{"deviceId":"gw-0042","method":"getSensors",`
	tests := append(malformedCases[:len(malformedCases):len(malformedCases)], []errorCase{
		{"deviceId missing", `{"method":"getSensors","success":true}`, contracts.ErrRequired, "deviceId: required"},
		{"deviceId number", `{"deviceId":7,"method":"getSensors","success":true}`, contracts.ErrWrongType, "deviceId: want string, got number"},
		{"method missing", `{"deviceId":"gw-0042","success":true}`, contracts.ErrRequired, "method: required"},
		{"method empty", `{"deviceId":"gw-0042","method":"","success":true}`, contracts.ErrRequired, "method: required"},
		{"success missing", head + `"result":1}`, contracts.ErrRequired, "success: required"},
		{"success null", head + `"success":null}`, contracts.ErrRequired, "success: required"},
		{"success string", head + `"success":"true"}`, contracts.ErrWrongType, "success: want boolean, got string"},
		{"success number", head + `"success":1}`, contracts.ErrWrongType, "success: want boolean, got number"},
		{"error on success", head + `"success":true,"error":{"code":"X","message":"y"}}`, contracts.ErrInvalidValue, "error: must be absent when success is true"},
		{"no error on failure", head + `"success":false}`, contracts.ErrRequired, "error: required when success is false"},
		{"null error on failure", head + `"success":false,"error":null}`, contracts.ErrRequired, "error: required when success is false"},
		{"error string", head + `"success":false,"error":"TIMEOUT"}`, contracts.ErrWrongType, "error: want object, got string"},
		{"error code missing", head + `"success":false,"error":{"message":"y"}}`, contracts.ErrRequired, "error.code: required"},
		{"error code number", head + `"success":false,"error":{"code":408,"message":"y"}}`, contracts.ErrWrongType, "error.code: want string, got number"},
		{"error message empty", head + `"success":false,"error":{"code":"TIMEOUT","message":""}}`, contracts.ErrRequired, "error.message: required"},
		{"duplicate name in result", head + `"success":true,"result":{"a":1,"a":1}}`, contracts.ErrMalformed, `duplicate object member name "a"`},
	}...)
	cmd := command(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := legacy.DecodeResponse([]byte(tc.input), deviceOrigin(), cmd)
			if !checkError(err, "legacy: decode response: ", tc) || m != nil {
				t.Errorf("DecodeResponse(%q) = %v, %v; want nil, %v containing %q", tc.input, m, err, tc.kind, tc.text)
			}
		})
	}
	input := readFile(t, "response-ok.json")
	t.Run("nil command", func(t *testing.T) {
		m, err := legacy.DecodeResponse(input, deviceOrigin(), nil)
		if err == nil || !errors.Is(err, contracts.ErrRequired) || m != nil {
			t.Errorf("DecodeResponse(%q, nil) = %v, %v; want nil, an error that cmd is required", input, m, err)
		}
	})
	t.Run("command without correlationId", func(t *testing.T) {
		m, err := legacy.DecodeResponse(input, deviceOrigin(), &contracts.Envelope{})
		if err == nil || !errors.Is(err, contracts.ErrRequired) || m != nil {
			t.Errorf("DecodeResponse(%q, &Envelope{}) = %v, %v; want nil, an error that correlationId is required", input, m, err)
		}
	})
}

func TestEncodeResponse(t *testing.T) {
	o := deviceOrigin()
	cmd := command(t)
	p := contracts.DeviceResponseRPCPayload{DeviceID: "gw-1", Method: "getSensors"}
	tests := []struct {
		name string
		m    *contracts.DeviceResponseRPC
		want string // the output, or the error text when kind is set
		kind error
	}{
		{"success without result", contracts.NewDeviceResponseRPC(o, cmd, p),
			`{"deviceId":"gw-1","method":"getSensors","success":true}`, nil},
		{"success with result", contracts.NewDeviceResponseRPC(o, cmd, contracts.DeviceResponseRPCPayload{DeviceID: "gw-1", Method: "getSensors", Result: []byte(`{"n": [1, 2]}`)}),
			`{"deviceId":"gw-1","method":"getSensors","success":true,"result":{"n":[1,2]}}`, nil},
		{"result not an object", contracts.NewDeviceResponseRPC(o, cmd, contracts.DeviceResponseRPCPayload{DeviceID: "gw-1", Method: "getSensors", Result: []byte(`[1, 2]`)}),
			"payload.result: want object, got array", contracts.ErrWrongType},
		{"error", contracts.NewDeviceResponseRPCError(o, cmd, p, contracts.CodeBusy, "busy"),
			`{"deviceId":"gw-1","method":"getSensors","success":false,"error":{"code":"BUSY","message":"busy"}}`, nil},
		{"invalid message", contracts.NewDeviceResponseRPCError(o, cmd, p, "", "busy"),
			"error.code: required", contracts.ErrRequired},
		{"result not JSON", contracts.NewDeviceResponseRPC(o, cmd, contracts.DeviceResponseRPCPayload{DeviceID: "gw-1", Method: "getSensors", Result: []byte(`{`)}),
			"", contracts.ErrInvalidValue},
		{"invalid UTF-8", contracts.NewDeviceResponseRPC(o, cmd, contracts.DeviceResponseRPCPayload{DeviceID: "gw-\xff", Method: "getSensors"}),
			"invalid UTF-8", contracts.ErrInvalidValue},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := legacy.EncodeResponse(tc.m)
			if tc.kind != nil {
				if !checkError(err, "legacy: encode response: ", errorCase{kind: tc.kind, text: tc.want}) {
					t.Errorf("EncodeResponse(%+v) = %s, %v; want %v containing %q", tc.m, b, err, tc.kind, tc.want)
				}
				return
			}
			if err != nil || string(b) != tc.want {
				t.Errorf("EncodeResponse(%+v) = %s, %v; want %s", tc.m, b, err, tc.want)
			}
		})
	}
}

func TestResponseRoundTrip(t *testing.T) {
	o := deviceOrigin()
	cmd := command(t)
	t.Run("legacy to v1 to legacy", func(t *testing.T) {
		for _, input := range []string{
			string(readFile(t, "response-ok.json")),
			string(readFile(t, "response-error.json")),
			`{"deviceId":"gw-0042","method":"getSensors","success":true}`,
			`{"deviceId":"gw-0042","method":"getSensors","success":false,"result":{"partial":true},"error":{"code":"X","message":"y"}}`,
		} {
			t.Run(input, func(t *testing.T) {
				m, err := legacy.DecodeResponse([]byte(input), o, cmd)
				if err != nil {
					t.Fatalf("DecodeResponse(%q) = %v; want no error", input, err)
				}
				got, err := legacy.EncodeResponse(m)
				if err != nil || !sameJSON(t, got, []byte(input)) {
					t.Errorf("EncodeResponse(DecodeResponse(%q)) = %s, %v; want the input", input, got, err)
				}
			})
		}
	})
	t.Run("legacy to v1 to legacy, result not an object", func(t *testing.T) {
		const head = `{"deviceId":"gw-0042","method":"getSensors","success":true`
		for input, want := range map[string]string{
			head + `,"result":null}`:   head + `}`,
			head + `,"result":"text"}`: head + `,"result":{"value":"text"}}`,
			head + `,"result":[1,2]}`:  head + `,"result":{"value":[1,2]}}`,
		} {
			t.Run(input, func(t *testing.T) {
				m, err := legacy.DecodeResponse([]byte(input), o, cmd)
				if err != nil {
					t.Fatalf("DecodeResponse(%q) = %v; want no error", input, err)
				}
				got, err := legacy.EncodeResponse(m)
				if err != nil || !sameJSON(t, got, []byte(want)) {
					t.Errorf("EncodeResponse(DecodeResponse(%q)) = %s, %v; want %s", input, got, err, want)
				}
			})
		}
	})
	t.Run("v1 to legacy to v1", func(t *testing.T) {
		p := contracts.DeviceResponseRPCPayload{DeviceID: "gw-0042", Method: "getSensors", Result: []byte(`{"sensors":[]}`)}
		for _, m := range []*contracts.DeviceResponseRPC{
			contracts.NewDeviceResponseRPC(o, cmd, p),
			contracts.NewDeviceResponseRPC(o, cmd, contracts.DeviceResponseRPCPayload{DeviceID: "gw-0042", Method: "getSensors"}),
			contracts.NewDeviceResponseRPCError(o, cmd, p, contracts.CodeTimeout, "no answer"),
		} {
			t.Run(string(m.Status), func(t *testing.T) {
				b, err := legacy.EncodeResponse(m)
				if err != nil {
					t.Fatalf("EncodeResponse(%+v) = %v; want no error", m, err)
				}
				got, err := legacy.DecodeResponse(b, o, cmd)
				if err != nil {
					t.Fatalf("DecodeResponse(%s) = %v; want no error", b, err)
				}
				want, err := contracts.Encode(m)
				if err != nil {
					t.Fatal(err)
				}
				if gotV1, err := contracts.Encode(got); err != nil || string(gotV1) != string(want) {
					t.Errorf("DecodeResponse(EncodeResponse(%s)) = %s, %v; want the same", want, gotV1, err)
				}
			})
		}
	})
}
