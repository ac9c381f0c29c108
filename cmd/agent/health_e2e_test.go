package main

import (
	stdjson "encoding/json"
	"fmt"
	"io"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/health/healthtest"
	"github.com/iot-hub/agent/contracts"
)

// TestHealthEndpoint: the agent, with health enabled on a loopback port,
// answers /healthz 200 once its uplink is connected, counts its
// telemetry as published and a command by method and code in /metrics,
// and closes the port when it stops.
func TestHealthEndpoint(t *testing.T) {
	const id = "gw-health"
	addr := freeAddr(t)
	r := launchRPCRig(t, id, fmt.Sprintf(`health:
  enabled: true
  listen: %s
sensors:
  - {name: sim, type: sim, interval: 100ms}
`, addr))
	r.agent.waitLog(t, `"msg":"health: listening","addr":"`+addr+`"`, 30*time.Second)
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	base := "http://" + addr

	var h struct {
		Status string `json:"status"`
		Uplink struct {
			Connected bool   `json:"connected"`
			Broker    string `json:"broker"`
		} `json:"uplink"`
		Sensors struct {
			Total int `json:"total"`
		} `json:"sensors"`
	}
	waitUntil(t, 30*time.Second, "/healthz 200 with the uplink connected", func() bool {
		code, body := httpGet(t, hc, base+"/healthz")
		if err := stdjson.Unmarshal(body, &h); err != nil {
			t.Fatalf("/healthz %s: %v", body, err)
		}
		return code == http.StatusOK && h.Status == "ok" && h.Uplink.Connected
	})
	if h.Uplink.Broker != r.broker.URL() || h.Sensors.Total != 1 {
		t.Errorf("/healthz = %+v; want the broker %s and 1 sensor", h, r.broker.URL())
	}

	waitUntil(t, 30*time.Second, "published telemetry in /metrics", func() bool {
		n, _ := scrapeAgent(t, hc, base).Value("iot_hub_agent_published_total", "lane", "telemetry")
		return n > 0
	})

	// The agent answers commands once it has subscribed, a little after
	// it connected: getDeviceState until one is answered, then one
	// getSensors.
	r.waitReady(t)
	cid, body := rpcCommand(id, "getSensors", "", nil)
	r.send(t, body, cid, nil)
	if resp, _ := r.answer(t, cid); resp.Status != contracts.StatusSuccess {
		t.Fatalf("getSensors answered %s: %+v", resp.Status, resp.Error)
	}

	e := scrapeAgent(t, hc, base)
	for _, tt := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"iot_hub_agent_rpc_commands_total", []string{"method", "getSensors", "code", "OK"}, 1},
		{"iot_hub_agent_rpc_duration_seconds_count", []string{"method", "getSensors"}, 1},
		{"iot_hub_agent_uplink_connected", nil, 1},
		{"iot_hub_agent_healthy", nil, 1},
		{"iot_hub_agent_sensor_read_errors_total", []string{"sensor", "sim"}, 0},
		{"iot_hub_agent_outbox_dropped_total", []string{"reason", "cap"}, 0},
	} {
		if got, ok := e.Value(tt.name, tt.labels...); !ok || got != tt.want {
			t.Errorf("%s%v = %v (present %v); want %v", tt.name, tt.labels, got, ok, tt.want)
		}
	}
	if n, _ := e.Value("iot_hub_agent_rpc_commands_total", "method", "getDeviceState", "code", "OK"); n < 1 {
		t.Errorf("rpc_commands_total{getDeviceState,OK} = %v; want at least 1", n)
	}

	if code := r.agent.stop(t, syscall.SIGTERM); code != exitOK {
		t.Fatalf("agent exited %d; want %d", code, exitOK)
	}
	if resp, err := hc.Get(base + "/healthz"); err == nil {
		resp.Body.Close()
		t.Errorf("GET /healthz after the agent stopped = %d; want the connection refused", resp.StatusCode)
	}
}

// httpGet returns the status and body of a GET of url.
func httpGet(t *testing.T, hc *http.Client, url string) (int, []byte) {
	t.Helper()
	resp, err := hc.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, b
}

// scrapeAgent fetches /metrics and checks that it is well-formed.
func scrapeAgent(t *testing.T, hc *http.Client, base string) *healthtest.Exposition {
	t.Helper()
	code, body := httpGet(t, hc, base+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics = %d %s; want 200", code, body)
	}
	e, err := healthtest.Parse(string(body))
	if err != nil {
		t.Fatalf("/metrics is not well-formed: %v\n%s", err, body)
	}
	return e
}

// waitUntil polls cond until it holds, failing the test after within.
func waitUntil(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(within); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v", what, within)
		}
	}
}
