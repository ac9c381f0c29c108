package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/iot-hub/agent/contracts"
)

// TestIntegrateEndToEnd: the agent, its uplink on mosquitto, runs its
// embedded broker for the devices on its network. A device's raw
// message arrives on the gateway's events topic as
// integration.mqtt.received, topic and payload intact, base64 when not
// UTF-8; a legacy telemetry object arrives on its telemetry topic as
// device.telemetry of a sensor named after the device; a device that
// floods is held to its rate, counted over_rate in /metrics and in
// getDeviceState, failing in getSensors, while the gateway's own sensor
// readings keep arriving.
func TestIntegrateEndToEnd(t *testing.T) {
	const id = "gw-integrate"
	local, healthAddr := freeAddr(t), freeAddr(t)
	r := launchRPCRig(t, id, fmt.Sprintf(`    embeddedBroker:
      enabled: true
      listen: %s
      integrate: {topics: ["raw/#"], legacyTelemetry: ["legacy/+"], ratePerClient: 5, burstPerClient: 5, rateTotal: 50, burstTotal: 50}
health: {enabled: true, listen: %s}
sensors:
  - {name: sim, type: sim, interval: 200ms}
`, local, healthAddr))
	events := r.broker.Subscribe(t, r.topics.Events, 1)
	telemetry := r.broker.Subscribe(t, r.topics.Telemetry, 1)
	r.waitReady(t)

	meter := deviceClient(t, local, "meter-1")
	publish := func(c *paho.Client, topic string, payload []byte) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := c.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: payload}); err != nil {
			t.Fatalf("publish %s: %v", topic, err)
		}
	}
	for _, payload := range [][]byte{[]byte("power=12.5 W"), {0xff, 0x00, 0x80}} {
		publish(meter, "raw/meter-1/power", payload)
		ev := waitEvent(t, events, rpcWait, func(ev *contracts.IntegrationMQTTReceived) bool {
			raw, err := contracts.Bytes(ev.Payload.Payload, ev.Payload.PayloadEncoding)
			return err == nil && bytes.Equal(raw, payload)
		})
		wantEncoding := contracts.EncodingUTF8
		if payload[0] == 0xff {
			wantEncoding = contracts.EncodingBase64
		}
		if p := ev.Payload; p.Topic != "raw/meter-1/power" || p.QoS != 1 || ev.Source.ID != id || (p.PayloadEncoding != wantEncoding && !(wantEncoding == contracts.EncodingUTF8 && p.PayloadEncoding == "")) {
			t.Errorf("event %+v from %+v; want raw/meter-1/power at QoS 1 from %s, encoded %s", p, ev.Source, id, wantEncoding)
		}
	}

	plug := deviceClient(t, local, "plug-3")
	publish(plug, "legacy/plug-3", []byte(`{"power":42.5,"on":true}`))
	tm := waitEvent(t, telemetry, rpcWait, func(tm *contracts.DeviceTelemetry) bool {
		return tm.Payload.Readings[0].Sensor == "plug-3"
	})
	if rs := tm.Payload.Readings; tm.Payload.DeviceID != id || len(rs) != 1 || rs[0].Metric != "power" || rs[0].Value != 42.5 {
		t.Errorf("adapted telemetry %+v; want %s's reading power 42.5 of sensor plug-3", tm.Payload, id)
	}

	flood := deviceClient(t, local, "flood-1")
	const sent = 100
	for i := range sent {
		publish(flood, "raw/flood-1", fmt.Appendf(nil, "%d", i))
	}
	telemetry.Clear()
	waitEvent(t, telemetry, rpcWait, func(tm *contracts.DeviceTelemetry) bool { return tm.Payload.Readings[0].Sensor == "sim" })

	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	e := scrapeAgent(t, hc, "http://"+healthAddr)
	over, _ := e.Value("iot_hub_agent_embedded_broker_messages_total", "outcome", "over_rate")
	taken, _ := e.Value("iot_hub_agent_embedded_broker_messages_total", "outcome", "taken")
	adapted, _ := e.Value("iot_hub_agent_embedded_broker_messages_total", "outcome", "adapted")
	if over < sent-20 || taken < 2+5 || taken+over != 2+sent || adapted != 1 {
		t.Errorf("/metrics: over_rate %v, taken %v, adapted %v; want most of the %d flooded over the rate, 1 adapted, every message counted", over, taken, adapted, sent)
	}

	state := r.call(t, "getDeviceState", "")
	eb, _ := state["embeddedBroker"].(map[string]any)
	msgs, _ := eb["messages"].(map[string]any)
	if eb["clientsConnected"] != float64(3) || eb["devices"] != float64(3) || msgs["overRate"] != over || fmt.Sprint(eb["failing"]) != "[flood-1]" {
		t.Errorf("getDeviceState's embeddedBroker = %v; want 3 clients, 3 devices, flood-1 failing, %v over the rate", eb, over)
	}
	sensorsRes := r.call(t, "getSensors", `{"sensors":["flood-1","plug-3"]}`)
	list, _ := sensorsRes["sensors"].([]any)
	if len(list) != 2 {
		t.Fatalf("getSensors(flood-1, plug-3) = %v; want both", sensorsRes)
	}
	f, p := list[0].(map[string]any), list[1].(map[string]any)
	if f["name"] != "flood-1" || f["health"] != "failing" || f["consecutiveFailures"].(float64) < 1 || p["name"] != "plug-3" || p["health"] != "ok" {
		t.Errorf("getSensors = %v; want flood-1 failing, plug-3 ok", list)
	}
}

// call sends the command method with params (JSON, "" for none) and
// returns its result, failing the test unless it succeeded.
func (r *rpcRig) call(t *testing.T, method, params string) map[string]any {
	t.Helper()
	cid, body := rpcCommand(r.id, method, params, nil)
	r.send(t, body, cid, nil)
	resp, _ := r.answer(t, cid)
	if resp.Status != contracts.StatusSuccess {
		t.Fatalf("%s answered %s: %+v", method, resp.Status, resp.Error)
	}
	return result(t, resp)
}
