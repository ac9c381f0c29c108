package legacy_test

import (
	"bytes"
	"testing"

	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/contracts/legacy"
)

// The fuzz tests check, for any input, that a decoder does not panic and
// that a message it accepts is valid and encodes; and that encoding is
// stable: decoding what was encoded and encoding again gives the same
// bytes.

// addSeeds adds the testdata files and the inputs of cases to f.
func addSeeds(f *testing.F, files []string, cases ...[]errorCase) {
	for _, name := range files {
		f.Add(readFile(f, name))
	}
	for _, cs := range cases {
		for _, tc := range cs {
			f.Add([]byte(tc.input))
		}
	}
}

func FuzzDecodeStatusChanged(f *testing.F) {
	addSeeds(f, []string{"status.json", "status-epoch.json"}, malformedCases)
	f.Add([]byte(`{"type":"DeviceStatusChanged","deviceId":"gw-1","timestamp":"9999-12-31T23:59:59.999-00:01","payload":{"status":"offline"}}`))
	f.Add([]byte(`{"type":"DeviceStatusChanged","deviceId":"gw-1","timestamp":1.5e12,"payload":{"status":"online","reason":null}}`))
	o := deviceOrigin()
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := legacy.DecodeStatusChanged(data, o)
		if err != nil {
			return
		}
		if err := contracts.Validate(m); err != nil {
			t.Fatalf("Validate(DecodeStatusChanged(%q)) = %v", data, err)
		}
		b1, err := legacy.EncodeStatusChanged(m)
		if err != nil {
			t.Fatalf("EncodeStatusChanged(DecodeStatusChanged(%q)) = %v", data, err)
		}
		m2, err := legacy.DecodeStatusChanged(b1, o)
		if err != nil {
			t.Fatalf("DecodeStatusChanged(%s) = %v; want no error", b1, err)
		}
		if m2.Payload != m.Payload || !m2.Timestamp.Equal(m.Timestamp) {
			t.Fatalf("DecodeStatusChanged(%s) = %+v at %v; want %+v at %v", b1, m2.Payload, m2.Timestamp, m.Payload, m.Timestamp)
		}
		if b2, err := legacy.EncodeStatusChanged(m2); err != nil || !bytes.Equal(b1, b2) {
			t.Fatalf("EncodeStatusChanged again = %s, %v; want %s", b2, err, b1)
		}
	})
}

func FuzzDecodeCommand(f *testing.F) {
	addSeeds(f, []string{"command.json"}, malformedCases)
	f.Add([]byte(`{"method":"getDeviceState","deviceId":"gw-1","timeout":5e3,"params":{"a":[1,{"b":null}]}}`))
	f.Add([]byte(`{"method":"getSensors","deviceId":"gw-1","timeout":1000.5}`))
	o := bridgeOrigin()
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := legacy.DecodeCommand(data, o)
		if err != nil {
			return
		}
		if err := contracts.Validate(m); err != nil {
			t.Fatalf("Validate(DecodeCommand(%q)) = %v", data, err)
		}
		b1, err := legacy.EncodeCommand(m, now)
		if err != nil {
			t.Fatalf("EncodeCommand(DecodeCommand(%q)) = %v", data, err)
		}
		m2, err := legacy.DecodeCommand(b1, o)
		if err != nil {
			t.Fatalf("DecodeCommand(%s) = %v; want no error", b1, err)
		}
		if !m2.ExpiresAt.Equal(m.ExpiresAt) {
			t.Fatalf("DecodeCommand(%s).ExpiresAt = %v; want %v", b1, m2.ExpiresAt, m.ExpiresAt)
		}
		if b2, err := legacy.EncodeCommand(m2, now); err != nil || !bytes.Equal(b1, b2) {
			t.Fatalf("EncodeCommand again = %s, %v; want %s", b2, err, b1)
		}
	})
}

func FuzzDecodeResponse(f *testing.F) {
	addSeeds(f, []string{"response-ok.json", "response-error.json"}, malformedCases)
	f.Add([]byte(`{"deviceId":"gw-1","method":"x","success":true,"result":null}`))
	f.Add([]byte(`{"deviceId":"gw-1","method":"x","success":false,"result":[1],"error":{"code":"BUSY","message":"busy"}}`))
	f.Add([]byte(`{"deviceId":"gw-1","method":"x","success":true,"result": "text" }`))
	o := deviceOrigin()
	cmd := command(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := legacy.DecodeResponse(data, o, cmd)
		if err != nil {
			return
		}
		if err := contracts.Validate(m); err != nil {
			t.Fatalf("Validate(DecodeResponse(%q)) = %v", data, err)
		}
		b1, err := legacy.EncodeResponse(m)
		if err != nil {
			t.Fatalf("EncodeResponse(DecodeResponse(%q)) = %v", data, err)
		}
		m2, err := legacy.DecodeResponse(b1, o, cmd)
		if err != nil {
			t.Fatalf("DecodeResponse(%s) = %v; want no error", b1, err)
		}
		if b2, err := legacy.EncodeResponse(m2); err != nil || !bytes.Equal(b1, b2) {
			t.Fatalf("EncodeResponse again = %s, %v; want %s", b2, err, b1)
		}
	})
}

func FuzzDecodeTelemetry(f *testing.F) {
	addSeeds(f, []string{"telemetry.json"}, malformedCases)
	f.Add([]byte(`{"temperature":21.5,"firmware":"1.4.2","ok":true,"nested":{"a":1},"e":-1e-400}`))
	f.Add([]byte(`{"energy":1e400}`))
	o := deviceOrigin()
	opts := legacy.TelemetryOptions{DeviceID: "plug-7", Units: map[string]string{"temperature": "Cel"}}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, _, err := legacy.DecodeTelemetry(data, o, opts)
		if err != nil {
			return
		}
		if err := contracts.Validate(m); err != nil {
			t.Fatalf("Validate(DecodeTelemetry(%q)) = %v", data, err)
		}
		b1, err := legacy.EncodeTelemetry(m)
		if err != nil {
			t.Fatalf("EncodeTelemetry(DecodeTelemetry(%q)) = %v", data, err)
		}
		m2, ignored, err := legacy.DecodeTelemetry(b1, o, opts)
		if err != nil || len(ignored) != 0 || len(m2.Payload.Readings) != len(m.Payload.Readings) {
			t.Fatalf("DecodeTelemetry(%s) = %+v, %q, %v; want %+v", b1, m2, ignored, err, m.Payload)
		}
		for i, r := range m2.Payload.Readings {
			if r != m.Payload.Readings[i] {
				t.Fatalf("DecodeTelemetry(%s).Payload.Readings[%d] = %+v; want %+v", b1, i, r, m.Payload.Readings[i])
			}
		}
		if b2, err := legacy.EncodeTelemetry(m2); err != nil || !bytes.Equal(b1, b2) {
			t.Fatalf("EncodeTelemetry again = %s, %v; want %s", b2, err, b1)
		}
	})
}
