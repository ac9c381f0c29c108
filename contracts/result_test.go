package contracts_test

import (
	"errors"
	"testing"

	"github.com/iot-hub/agent/contracts"
)

// resultCases are the values a device.response.rpc result can take, and
// the error Decode and Encode give for each: the backend's schema
// (z.record(z.any())) takes an object or nothing.
var resultCases = []struct {
	name    string
	value   any // a JSON text, or deleted for an absent result
	wantErr string
}{
	{"absent", deleted, ""},
	{"object", `{"sensors":[]}`, ""},
	{"empty object", `{}`, ""},
	{"null", `null`, "contracts: payload.result: want object, got null"},
	{"array", `[1,2]`, "contracts: payload.result: want object, got array"},
	{"string", `"ok"`, "contracts: payload.result: want object, got string"},
	{"number", `42`, "contracts: payload.result: want object, got number"},
	{"boolean", `true`, "contracts: payload.result: want object, got boolean"},
}

func TestDecodeResultIsAnObjectOrAbsent(t *testing.T) {
	for _, c := range resultCases {
		t.Run(c.name, func(t *testing.T) {
			in := patch(t, contracts.TypeDeviceResponseRPC, "payload.result", c.value)
			m, err := contracts.Decode(in)
			checkResultError(t, "Decode", err, c.wantErr)
			if c.wantErr != "" && m != nil {
				t.Errorf("Decode(%s) = %v; want no message", in, m)
			}
		})
	}
}

func TestEncodeResultIsAnObjectOrAbsent(t *testing.T) {
	cmd := contracts.NewDeviceCommandRPC(backend, contracts.DeviceCommandRPCPayload{DeviceID: "gw-0042", Method: contracts.MethodGetSensors, RequestedBy: "u"}, 0)
	for _, c := range resultCases {
		t.Run(c.name, func(t *testing.T) {
			p := contracts.DeviceResponseRPCPayload{DeviceID: "gw-0042", Method: "getSensors"}
			if c.value != deleted {
				p.Result = []byte(c.value.(string))
			}
			m := contracts.NewDeviceResponseRPC(device, cmd.Header(), p)
			b, err := contracts.Encode(m)
			checkResultError(t, "Encode", err, c.wantErr)
			if c.wantErr != "" {
				if b != nil {
					t.Errorf("Encode = %s; want nothing", b)
				}
				return
			}
			back, err := contracts.Decode(b)
			if err != nil {
				t.Fatalf("Decode(Encode(m)) = %v", err)
			}
			if got := back.(*contracts.DeviceResponseRPC).Payload.Result; string(got) != string(p.Result) {
				t.Errorf("Decode(Encode(m)) result = %s; want %s", got, p.Result)
			}
		})
	}
}

// checkResultError checks err is nil when want is empty, and otherwise a
// wrong-type error at payload.result with the text want.
func checkResultError(t *testing.T, op string, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("%s = %v; want no error", op, err)
		}
		return
	}
	var e *contracts.Error
	if !errors.Is(err, contracts.ErrWrongType) || !errors.As(err, &e) || e.Path != "payload.result" || err.Error() != want {
		t.Fatalf("%s = %v; want ErrWrongType %q", op, err, want)
	}
}
