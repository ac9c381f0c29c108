package health_test

import (
	"testing"

	"github.com/iot-hub/agent/agent/broker"
	"github.com/iot-hub/agent/agent/health"
)

// TestMetricsEmbeddedBroker: with an embedded broker, /metrics says how
// many clients are connected and what became of their messages, every
// outcome present, zero or not.
func TestMetricsEmbeddedBroker(t *testing.T) {
	var st broker.Stats
	st.Connected = 3
	st.Integrate[broker.Taken], st.Integrate[broker.Adapted], st.Integrate[broker.OverTotal] = 7, 2, 40
	base, _ := serve(t, health.Config{Settings: health.Settings{Listen: "127.0.0.1:0"}},
		health.Sources{Broker: func() broker.Stats { return st }}, health.NewMetrics())
	e := (&rig{base: base}).metricsText(t)
	want := map[string]float64{"taken": 7, "adapted": 2, "unadapted": 0, "too_large": 0, "over_rate": 0, "over_total": 40, "failed": 0}
	for outcome, n := range want {
		if got, ok := e.Value("iot_hub_agent_embedded_broker_messages_total", "outcome", outcome); !ok || got != n {
			t.Errorf("iot_hub_agent_embedded_broker_messages_total{outcome=%q} = %v (present %v); want %v", outcome, got, ok, n)
		}
	}
	if got, ok := e.Value("iot_hub_agent_embedded_broker_clients"); !ok || got != 3 {
		t.Errorf("iot_hub_agent_embedded_broker_clients = %v (present %v); want 3", got, ok)
	}
	if f := e.Families["iot_hub_agent_embedded_broker_messages_total"]; f == nil || f.Type != "counter" {
		t.Errorf("family iot_hub_agent_embedded_broker_messages_total: %+v; want a counter", f)
	}
}
