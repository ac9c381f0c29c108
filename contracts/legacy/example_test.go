package legacy_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/contracts/legacy"
)

func ExampleDecodeTelemetry() {
	o := contracts.DeviceOrigin("gw-0042")
	o.Clock = func() time.Time { return time.Date(2026, 11, 27, 10, 15, 30, 123e6, time.UTC) }

	data := []byte(`{"temperature": 21.5, "humidity": 40, "firmware": "1.4.2", "ok": true}`)
	m, ignored, err := legacy.DecodeTelemetry(data, o, legacy.TelemetryOptions{
		DeviceID: "plug-7",
		Units:    map[string]string{"temperature": "Cel", "humidity": "%"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.EventType, m.Payload.DeviceID, "from", m.Source.Type, m.Source.ID)
	for _, r := range m.Payload.Readings {
		fmt.Printf("%s %s = %v %q at %s\n", r.Sensor, r.Metric, r.Value, r.Unit, r.At.Format(contracts.TimeLayout))
	}
	fmt.Println("ignored:", ignored)

	_, _, err = legacy.DecodeTelemetry([]byte(`{"status":"ok"}`), o, legacy.TelemetryOptions{DeviceID: "plug-7"})
	fmt.Println(err)
	// Output:
	// device.telemetry plug-7 from device gw-0042
	// plug-7 humidity = 40 "%" at 2026-11-27T10:15:30.123Z
	// plug-7 temperature = 21.5 "Cel" at 2026-11-27T10:15:30.123Z
	// ignored: [firmware ok]
	// legacy: decode telemetry: no member has a number value (1 ignored)
}

func ExampleDecodeCommand() {
	o := contracts.Origin{
		Source: contracts.Source{Type: contracts.SourceBridge, ID: "legacy-bridge"},
		Clock:  func() time.Time { return time.Date(2026, 11, 27, 10, 15, 30, 123e6, time.UTC) },
	}

	data := []byte(`{"method":"getSensors","deviceId":"gw-0042","timeout":5000,"params":{"fresh":true}}`)
	m, err := legacy.DecodeCommand(data, o)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.EventType, m.Payload.Method, "on", m.Payload.DeviceID, "requested by", m.Payload.RequestedBy)
	fmt.Println("params:", string(m.Payload.Params))
	fmt.Println("expires at:", m.ExpiresAt.Format(contracts.TimeLayout))

	// Back to the legacy format, 1.5 s later: the timeout is what is left.
	old, err := legacy.EncodeCommand(m, o.Now().Add(1500*time.Millisecond))
	fmt.Println(string(old), err)

	_, err = legacy.DecodeCommand([]byte(`{"method":"getSensors","deviceId":"gw-0042","timeout":50}`), o)
	fmt.Println(err)
	_, err = legacy.DecodeCommand([]byte(`{"method":"reboot","deviceId":"gw-0042"}`), o)
	fmt.Println(err, errors.Is(err, contracts.ErrUnknownMethod))
	// Output:
	// device.command.rpc getSensors on gw-0042 requested by legacy
	// params: {"fresh":true}
	// expires at: 2026-11-27T10:15:35.123Z
	// {"method":"getSensors","deviceId":"gw-0042","timeout":3500,"params":{"fresh":true}} <nil>
	// legacy: decode command: timeout: 50 is outside 1000..30000 ms
	// legacy: decode command: method: "reboot" is not one of getDeviceState, getSensors, getLogs, getConfig, restartAgent, setConfig, updateAgent true
}
