package contracts_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/iot-hub/agent/contracts"
)

// Build a telemetry event, encode it and find where it goes.
func ExampleNewDeviceTelemetry() {
	origin := contracts.DeviceOrigin("gw-0042")
	at := time.Date(2026, 11, 27, 10, 15, 30, 123e6, time.UTC)
	m := contracts.NewDeviceTelemetry(origin, contracts.DeviceTelemetryPayload{
		DeviceID: "gw-0042",
		Readings: []contracts.Reading{
			{Sensor: "bme280", Metric: "temperature", Value: 21.5, Unit: "Cel", At: at},
			{Sensor: "bme280", Metric: "humidity", Value: 40, Unit: "%", At: at},
		},
	})
	data, err := contracts.Encode(m)
	if err != nil {
		fmt.Println(err)
		return
	}
	topics, _ := contracts.DeviceTopics("gw-0042")
	fmt.Println("kafka topic:", m.EventType.Topic())
	fmt.Println("mqtt topic:", topics.For(m.EventType))
	fmt.Println("bytes:", len(data) > 0, "correlationId is a new UUID:", len(m.CorrelationID) == 36)
	// Output:
	// kafka topic: device.telemetry
	// mqtt topic: iot/v1/devices/gw-0042/telemetry
	// bytes: true correlationId is a new UUID: true
}

// Decode a command, act on it by type, and answer a bad one.
func ExampleDecode() {
	data := []byte(`{
	  "eventType": "device.command.rpc",
	  "correlationId": "0b8e3f7c-5d1a-4c9e-9f0a-2f4b8c1d7e6a",
	  "timestamp": "2026-11-27T10:15:30.123Z",
	  "source": {"type": "backend", "id": "device-service"},
	  "payload": {"deviceId": "gw-0042", "method": "getSensors", "requestedBy": "user-17", "params": {"fresh": true}}
	}`)
	msg, err := contracts.Decode(data)
	if err != nil {
		fmt.Println(err)
		return
	}
	switch m := msg.(type) {
	case *contracts.DeviceCommandRPC:
		fmt.Println(m.Kind(), m.Payload.Method, "for", m.Payload.DeviceID, "params", string(m.Payload.Params))
	}

	bad := []byte(`{"eventType": "device.command.rpc", "correlationId": "0b8e3f7c-5d1a-4c9e-9f0a-2f4b8c1d7e6a",
	  "timestamp": "2026-11-27T10:15:30.123Z", "source": {"type": "backend", "id": "api"},
	  "payload": {"deviceId": "gw-0042", "method": "selfDestruct", "requestedBy": "user-17"}}`)
	_, err = contracts.Decode(bad)
	fmt.Println(err)
	var e *contracts.Error
	if errors.Is(err, contracts.ErrUnknownMethod) && errors.As(err, &e) {
		reply := contracts.NewDeviceResponseRPCError(contracts.DeviceOrigin("gw-0042"), e.Header,
			contracts.DeviceResponseRPCPayload{DeviceID: "gw-0042", Method: "selfDestruct"},
			contracts.CodeMethodNotFound, e.Reason)
		fmt.Println(reply.Status, reply.Error.Code, reply.CorrelationID)
	}
	// Output:
	// command getSensors for gw-0042 params {"fresh": true}
	// contracts: payload.method: "selfDestruct" is not one of getDeviceState, getSensors, getLogs, getConfig, restartAgent, setConfig, updateAgent
	// error METHOD_NOT_FOUND 0b8e3f7c-5d1a-4c9e-9f0a-2f4b8c1d7e6a
}
