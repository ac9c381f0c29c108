package contracts_test

import (
	stdjson "encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/iot-hub/agent/contracts"
)

// benchMessages are the shapes the agent handles most: an RPC command
// (every request it answers) and its answer (getDeviceState's, about 1 KB
// of result), a telemetry event of 20 readings (its steady output) and a
// local device's message (integration events).
func benchMessages() map[string]contracts.Message {
	o := contracts.DeviceOrigin("gw-0042")
	o.Clock = func() time.Time { return time.Date(2026, 11, 27, 10, 15, 30, 123e6, time.UTC) }
	cmd := contracts.NewDeviceCommandRPC(contracts.Origin{Source: contracts.Source{Type: contracts.SourceBackend, ID: "api"}, Clock: o.Clock},
		contracts.DeviceCommandRPCPayload{DeviceID: "gw-0042", Method: contracts.MethodGetSensors, Params: []byte(`{"sensors":["bme280","cpu"],"fresh":true}`), RequestedBy: "user-17"},
		5*time.Second)
	readings := make([]contracts.Reading, 20)
	for i := range readings {
		readings[i] = contracts.Reading{Sensor: fmt.Sprintf("sensor-%d", i/3), Metric: "temperature", Value: 20 + float64(i)/8, Unit: "Cel", At: o.Now()}
	}
	tel := contracts.NewDeviceTelemetry(o, contracts.DeviceTelemetryPayload{DeviceID: "gw-0042", Readings: readings})
	local := contracts.NewIntegrationMQTTReceived(o, "local/meter-7/power", []byte(`{"w":1520,"kwh":8123.4}`), 1, o.Now())
	result := []byte(`{"deviceId":"gw-0042","agentVersion":"v1.4.0","agentSlot":"a","agentStartedAt":"2026-11-27T09:00:00.000Z","os":"linux","arch":"arm64",` +
		`"kernel":"6.6.51+rpt-rpi-v8","hostname":"gw-0042","bootTime":"2026-11-20T08:00:00.000Z","uptimeSeconds":612930.5,"clockSynchronized":true,` +
		`"uplink":{"connected":true,"since":"2026-11-27T09:00:01.000Z","broker":"mqtts://broker.example.com:8883","reconnects":2},` +
		`"outbox":{"controlDepth":0,"telemetryDepth":3,"bytes":1532,"inFlight":1,"oldestAgeSeconds":0.8,"droppedCap":0,"droppedExpired":0,"droppedRefused":0,"quarantined":0,"fileBytes":131072},` +
		`"certificate":{"serial":"4f2a9c","subject":"gw-0042","notAfter":"2027-02-25T09:00:00.000Z","daysLeft":89.9},` +
		`"sensors":{"total":12,"ok":11,"failing":["modbus-3"],"unknown":0},"memory":{"totalBytes":8241577984,"availableBytes":6241577984,"agentRssBytes":14241792},` +
		`"disk":{"path":"/var/lib/iot-hub-agent","totalBytes":31268536320,"availableBytes":22268536320},"cpuTemperatureCelsius":48.7}`)
	answer := contracts.NewDeviceResponseRPC(o, &cmd.Envelope, contracts.DeviceResponseRPCPayload{DeviceID: "gw-0042", Method: "getDeviceState", Result: result, DurationMs: 0.042})
	return map[string]contracts.Message{"rpc-command": cmd, "rpc-answer": answer, "telemetry-20": tel, "integration-mqtt": local}
}

// BenchmarkDecode measures validated Decode next to two baselines in the
// same run: plain encoding/json (v1) Unmarshal and plain json v2 Unmarshal
// into the same struct, without validation.
func BenchmarkDecode(b *testing.B) {
	for name, m := range benchMessages() {
		data, err := contracts.Encode(m)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name+"/contracts.Decode", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := contracts.Decode(data); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/baseline-stdjson.Unmarshal", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				v := contracts.NewMessage(m.Header().EventType)
				if err := stdjson.Unmarshal(data, v); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/baseline-jsonv2.Unmarshal", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				v := contracts.NewMessage(m.Header().EventType)
				if err := json.Unmarshal(data, v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEncode measures validated Encode next to plain Marshal.
func BenchmarkEncode(b *testing.B) {
	for name, m := range benchMessages() {
		b.Run(name+"/contracts.Encode", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := contracts.Encode(m); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/baseline-stdjson.Marshal", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := stdjson.Marshal(m); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/baseline-jsonv2.Marshal", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := json.Marshal(m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
