package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/google/uuid"

	"github.com/iot-hub/agent/agent/health"
	"github.com/iot-hub/agent/contracts"
)

// TestLocalRPC: a program on the gateway calls the agent's methods with
// POST /v1/rpc/{method} on the health listener, through the dispatcher
// the uplink's commands take: getSensors answers the device.response.rpc
// envelope, 200; the same X-Correlation-Id again gets the same answer
// without running again; an unknown method is 404 METHOD_NOT_FOUND with
// its dead letter at the broker, as for the backend; a body that is not
// a JSON object, a correlationId that is not a UUID, and a forwarded
// request are refused, naming what is wrong. No local call's answer
// reaches the broker.
func TestLocalRPC(t *testing.T) {
	const id = "gw-local-rpc"
	addr := freeAddr(t)
	r := launchRPCRig(t, id, fmt.Sprintf(`health:
  enabled: true
  listen: %s
sensors:
  - {name: sim, type: sim, interval: 100ms}
`, addr))
	r.agent.waitLog(t, `"msg":"health: listening"`, 30*time.Second)
	hc := &http.Client{Timeout: 20 * time.Second}
	post := func(method, body string, headers ...string) (int, http.Header, []byte) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/rpc/"+method, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("POST /v1/rpc/%s: %v", method, err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, resp.Header, b
	}
	answerOf := func(b []byte) *contracts.DeviceResponseRPC {
		t.Helper()
		m, err := contracts.Decode(bytes.TrimSpace(b))
		if err != nil {
			t.Fatalf("answer %s: %v", b, err)
		}
		return m.(*contracts.DeviceResponseRPC)
	}

	var code int
	var hdr http.Header
	var body []byte
	waitUntil(t, 30*time.Second, "getSensors answered 200 with the sim sensor", func() bool {
		code, hdr, body = post("getSensors", `{"fresh": false}`, health.HeaderRequestedBy, "kiosk")
		return code == http.StatusOK && bytes.Contains(body, []byte(`"sim"`))
	})
	a := answerOf(body)
	if a.Status != contracts.StatusSuccess || a.Payload.DeviceID != id || a.CorrelationID != hdr.Get(health.HeaderCorrelationID) {
		t.Errorf("getSensors answered %s (header %s); want a success for %s with the correlationId in the header", body, hdr.Get(health.HeaderCorrelationID), id)
	}

	cid := uuid.NewString()
	_, _, first := post("getDeviceState", "", health.HeaderCorrelationID, cid)
	time.Sleep(20 * time.Millisecond)
	code, _, again := post("getDeviceState", "", health.HeaderCorrelationID, cid)
	if code != http.StatusOK || !bytes.Equal(first, again) || answerOf(first).CorrelationID != cid {
		t.Errorf("getDeviceState twice with %s: %d\n%s\nthen\n%s\nwant 200 and the same answer", cid, code, first, again)
	}

	if code, _, body := post("getDeviceState", "", health.HeaderRequestedBy, "x"+strings.Repeat("é", 100)); code != http.StatusOK {
		t.Errorf("a long X-Requested-By, cut within a character: %d %s; want 200", code, body)
	}

	code, _, body = post("selfDestruct", "")
	if a := answerOf(body); code != http.StatusNotFound || a.Error == nil || a.Error.Code != contracts.CodeMethodNotFound {
		t.Errorf("an unknown method: %d %s; want 404 METHOD_NOT_FOUND", code, body)
	}
	notFound := answerOf(body).CorrelationID
	if _, ok := r.client.waitN(1, rpcWait, func(m *paho.Publish) bool {
		return m.Topic == r.topics.DLQ && bytes.Contains(m.Payload, []byte(notFound))
	}); !ok {
		t.Errorf("no dead letter of the unknown method's command (%s) at the broker", notFound)
	}

	for _, tt := range []struct {
		name, body string
		headers    []string
		code       int
		says       string
	}{
		{"params not an object", `[1, 2]`, nil, http.StatusBadRequest, "a JSON object"},
		{"params not JSON", `{"fresh":`, nil, http.StatusBadRequest, "a JSON object"},
		{"correlationId not a UUID", "", []string{health.HeaderCorrelationID, "42"}, http.StatusBadRequest, "X-Correlation-Id"},
		{"forwarded", "", []string{"X-Forwarded-For", "192.0.2.7"}, http.StatusForbidden, "X-Forwarded-For"},
		{"too large", `{"pad":"` + strings.Repeat("x", 70<<10) + `"}`, nil, http.StatusRequestEntityTooLarge, "65536 bytes"},
	} {
		code, _, body := post("getSensors", tt.body, tt.headers...)
		if code != tt.code || !strings.Contains(string(body), tt.says) {
			t.Errorf("%s: %d %s; want %d saying %q", tt.name, code, body, tt.code, tt.says)
		}
	}

	time.Sleep(300 * time.Millisecond) // what the agent would publish has had time to arrive
	if got := r.client.matching(func(m *paho.Publish) bool { return m.Topic == r.topics.Responses || m.Topic == r.replies }); len(got) > 0 {
		t.Errorf("%d answers to local calls reached the broker: %s", len(got), got[0].Payload)
	}
}
