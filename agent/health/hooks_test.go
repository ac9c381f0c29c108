package health_test

// The components' hooks, wired to Metrics as the agent wires them: the
// RPC dispatcher's Observe and the uplinks' OnPublished.

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/iot-hub/agent/agent/health"
	"github.com/iot-hub/agent/agent/health/healthtest"
	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/agent/outbox/outboxtest"
	"github.com/iot-hub/agent/agent/rpc"
	"github.com/iot-hub/agent/agent/sensors"
	"github.com/iot-hub/agent/agent/sensors/sensorstest"
	"github.com/iot-hub/agent/agent/uplink"
	"github.com/iot-hub/agent/agent/uplink/kafka"
	"github.com/iot-hub/agent/agent/uplink/mqtt"
	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/internal/mqtttest"
)

const device = "gw-test"

// scrape returns m's metrics as a server exposes them.
func scrape(t *testing.T, m *health.Metrics) *healthtest.Exposition {
	t.Helper()
	base, stop := serve(t, health.Config{Settings: health.Settings{Listen: "127.0.0.1:0"}}, health.Sources{}, m)
	defer stop()
	return scrapeAt(t, base)
}

// scrapeAt returns the metrics of the server at base.
func scrapeAt(t *testing.T, base string) *healthtest.Exposition {
	t.Helper()
	_, _, body := get(t, base+"/metrics")
	e, err := healthtest.Parse(body)
	if err != nil {
		t.Fatalf("/metrics: %v\n%s", err, body)
	}
	return e
}

// openBox opens an outbox in a temporary directory for the test.
func openBox(t *testing.T) *outbox.Store {
	t.Helper()
	box, _ := outboxtest.Open(t, outbox.Config{})
	return box
}

// command is a device.command.rpc for deviceID naming method.
func command(deviceID, method string) []byte {
	now := time.Now().UTC()
	b, err := json.Marshal(map[string]any{
		"eventType":     "device.command.rpc",
		"correlationId": uuid.NewString(),
		"timestamp":     now.Format("2006-01-02T15:04:05.000Z07:00"),
		"source":        map[string]any{"type": "backend", "id": "test"},
		"__version":     "v1",
		"payload":       map[string]any{"deviceId": deviceID, "method": method, "requestedBy": "test"},
	})
	if err != nil {
		panic(err)
	}
	return b
}

// TestRPCObserve: the dispatcher reports every answer, with the method
// as a label only when the agent implements it.
func TestRPCObserve(t *testing.T) {
	box := openBox(t)
	m := health.NewMetrics()
	d, err := rpc.New(rpc.Config{DeviceID: device, Observe: m.RPC}, box, rpc.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	topics, _ := contracts.DeviceTopics(device)
	var acked sync.WaitGroup
	for _, payload := range [][]byte{
		command(device, "getSensors"),
		command(device, "getSensors"),
		command("gw-other", "getSensors"),
		command(device, "selfDestruct"),
	} {
		acked.Add(1)
		d.Handle(uplink.Command{Topic: topics.Commands, Payload: payload, Reply: topics.Responses, DeadLetters: topics.DLQ, Ack: acked.Done})
	}
	acked.Wait()
	d.Close()

	e := scrape(t, m)
	for _, tt := range []struct {
		method, code string
		want         float64
	}{
		{"getSensors", "OK", 2},
		{"getSensors", contracts.CodeWrongDevice, 1},
		{rpc.MethodUnknown, contracts.CodeMethodNotFound, 1},
	} {
		if got, ok := e.Value("iot_hub_agent_rpc_commands_total", "method", tt.method, "code", tt.code); !ok || got != tt.want {
			t.Errorf("rpc_commands_total{method=%q,code=%q} = %v (present %v); want %v", tt.method, tt.code, got, ok, tt.want)
		}
	}
	if got, _ := e.Value("iot_hub_agent_rpc_duration_seconds_count", "method", "getSensors"); got != 3 {
		t.Errorf("rpc_duration_seconds_count{method=getSensors} = %v; want 3", got)
	}
	if n := len(e.Families["iot_hub_agent_rpc_commands_total"].Samples); n != 3 {
		t.Errorf("rpc_commands_total has %d series; want 3 (no label for selfDestruct)", n)
	}
}

// queueTelemetry appends n telemetry events through a sampler, as the
// agent does.
func queueTelemetry(t *testing.T, box *outbox.Store, n int) {
	t.Helper()
	s, err := sensors.NewSampler(sensors.SamplerConfig{DeviceID: device}, box, sensors.Schedule{Sensor: sensorstest.New("sim"), Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		if sts, err := s.ReadNow(context.Background()); err != nil || sts[0].Health != sensors.HealthOK {
			t.Fatalf("ReadNow = %+v, %v; want a reading queued", sts, err)
		}
	}
}

// publishedCounts returns, from one scrape of the server at base, the
// published records of each lane and the count of publish latencies
// observed.
func publishedCounts(t *testing.T, base string) (telemetry, control, latencies float64) {
	t.Helper()
	e := scrapeAt(t, base)
	telemetry, _ = e.Value("iot_hub_agent_published_total", "lane", "telemetry")
	control, _ = e.Value("iot_hub_agent_published_total", "lane", "control")
	latencies, _ = e.Value("iot_hub_agent_publish_latency_seconds_count")
	return telemetry, control, latencies
}

// waitPublished waits up to 30 s for n records of the telemetry lane to
// be counted, then checks that each has its latency counted too.
func waitPublished(t *testing.T, m *health.Metrics, n float64) {
	t.Helper()
	base, stop := serve(t, health.Config{Settings: health.Settings{Listen: "127.0.0.1:0"}}, health.Sources{}, m)
	defer stop()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if telemetry, _, _ := publishedCounts(t, base); telemetry >= n || time.Now().After(deadline) {
			break
		}
	}
	// Scraped again: a control record (a status) may have been on its
	// way during the last scrape.
	telemetry, control, latencies := publishedCounts(t, base)
	if telemetry != n || latencies != telemetry+control {
		t.Errorf("published telemetry %v, control %v, latencies counted %v; want %v telemetry, a latency per record", telemetry, control, latencies, n)
	}
}

// runUplink runs up until the test ends.
func runUplink(t *testing.T, run func(context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("uplink Run = %v; want nil", err)
			}
		case <-time.After(60 * time.Second):
			t.Error("uplink Run did not return within 60 s of its context ending")
		}
	})
}

// TestMQTTOnPublished: the MQTT uplink reports each record a PUBACK
// settled, with its latency.
func TestMQTTOnPublished(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{})
	box := openBox(t)
	m := health.NewMetrics()
	up, err := mqtt.New(mqtt.Config{DeviceID: device, OnPublished: m.Published,
		Settings: mqtt.Settings{Broker: b.URL(), BackoffMin: 100 * time.Millisecond, BackoffMax: time.Second, ConnectTimeout: 5 * time.Second}}, box, func(context.Context, mqtt.Command) {})
	if err != nil {
		t.Fatal(err)
	}
	queueTelemetry(t, box, 5)
	runUplink(t, up.Run)
	waitPublished(t, m, 5)
}

// TestKafkaOnPublished: the Kafka uplink reports each record the brokers
// acknowledged, with its latency.
func TestKafkaOnPublished(t *testing.T) {
	var topics []string
	for _, typ := range []contracts.EventType{contracts.TypeDeviceCommandRPC, contracts.TypeDeviceResponseRPC,
		contracts.TypeDeviceTelemetry, contracts.TypeDeviceStatusChanged, contracts.TypeSystemDLQ} {
		topics = append(topics, typ.Topic())
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	box := openBox(t)
	m := health.NewMetrics()
	up, err := kafka.New(kafka.Config{Brokers: c.ListenAddrs(), DeviceID: device, ConnectTimeout: 5 * time.Second, OnPublished: m.Published},
		box, func(context.Context, kafka.Command) {})
	if err != nil {
		t.Fatal(err)
	}
	queueTelemetry(t, box, 5)
	runUplink(t, up.Run)
	waitPublished(t, m, 5)
}

// TestKafkaOnOtherDevice: the Kafka uplink counts each command for
// another device it reads, and /metrics shows the count.
func TestKafkaOnOtherDevice(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, contracts.TypeDeviceCommandRPC.Topic(),
		contracts.TypeDeviceStatusChanged.Topic()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	box := openBox(t)
	m := health.NewMetrics()
	up, err := kafka.New(kafka.Config{Brokers: c.ListenAddrs(), DeviceID: device, ConnectTimeout: 5 * time.Second, OnOtherDevice: m.OtherDevice},
		box, func(_ context.Context, c kafka.Command) { c.Ack() })
	if err != nil {
		t.Fatal(err)
	}
	runUplink(t, up.Run)
	cursor := "kafka/" + contracts.TypeDeviceCommandRPC.Topic() + "/0"
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, ok, _ := box.Cursor(cursor); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the uplink stored no commands cursor within 30 s")
		}
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	for _, id := range []string{"gw-other-1", "gw-other-2", "gw-other-3"} {
		cmd := contracts.NewDeviceCommandRPC(contracts.Origin{Source: contracts.Source{Type: contracts.SourceBackend, ID: "test"}},
			contracts.DeviceCommandRPCPayload{DeviceID: id, Method: contracts.MethodGetDeviceState, RequestedBy: "test"}, time.Hour)
		b, err := contracts.Encode(cmd)
		if err != nil {
			t.Fatal(err)
		}
		if err := prod.ProduceSync(context.Background(), &kgo.Record{Topic: contracts.TopicDeviceCommands, Value: b}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	base, stop := serve(t, health.Config{Settings: health.Settings{Listen: "127.0.0.1:0"}}, health.Sources{}, m)
	defer stop()
	var n float64
	for deadline := time.Now().Add(30 * time.Second); n != 3 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		n, _ = scrapeAt(t, base).Value("iot_hub_agent_commands_other_devices_total")
	}
	if n != 3 {
		t.Errorf("iot_hub_agent_commands_other_devices_total = %v; want 3", n)
	}
}
