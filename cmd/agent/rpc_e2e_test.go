package main

// End-to-end tests of RPC: the agent runs as a child process (startAgent)
// against mosquitto (internal/mqtttest), and a test client sends it
// commands as the backend does, MQTT v5 request/response (a Response
// Topic and Correlation Data), then reads the answers and the dead
// letters it publishes.
//
// INTERNAL answers a bug, which no input causes: the agent under test has
// one planted (panicOnSensor). Not covered here: EXPIRED by MQTT Message
// Expiry alone: the broker drops a message whose interval has run
// out instead of delivering it, and the agent counts the remaining
// interval from the moment it receives the message, so a message the
// broker delivers has not expired for the agent either.
// TestRPCErrorCodes shows instead that the interval bounds the method's
// deadline (TIMEOUT).

import (
	"bytes"
	"context"
	stdjson "encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
	"github.com/google/uuid"

	"github.com/iot-hub/agent/agent/rpc"
	"github.com/iot-hub/agent/agent/sensors"
	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/internal/mqtttest"
)

// rpcWait bounds the wait for one answer or dead letter: generous, for a
// loaded machine; a passing test waits far less.
const rpcWait = 20 * time.Second

// rpcClient is an MQTT v5 client that publishes commands and records every
// message received on the topics it subscribed to.
type rpcClient struct {
	c *paho.Client

	mu      sync.Mutex
	msgs    []*paho.Publish
	changed chan struct{} // closed and replaced on each arrival
}

// dialRPC connects a client with a clean session to addr and subscribes
// it to topics at QoS 1; it disconnects when the test ends.
func dialRPC(t *testing.T, addr, id string, topics ...string) *rpcClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatalf("connect to %s: %v", addr, err)
	}
	rc := &rpcClient{changed: make(chan struct{})}
	rc.c = paho.NewClient(paho.ClientConfig{
		Conn:              packets.NewThreadSafeConn(conn),
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){rc.receive},
	})
	if _, err := rc.c.Connect(ctx, &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 30}); err != nil {
		_ = conn.Close()
		<-rc.c.Done()
		t.Fatalf("MQTT connect to %s: %v", addr, err)
	}
	t.Cleanup(func() {
		_ = rc.c.Disconnect(&paho.Disconnect{})
		<-rc.c.Done()
	})
	if len(topics) > 0 {
		subs := make([]paho.SubscribeOptions, len(topics))
		for i, topic := range topics {
			subs[i] = paho.SubscribeOptions{Topic: topic, QoS: 1}
		}
		ack, err := rc.c.Subscribe(ctx, &paho.Subscribe{Subscriptions: subs})
		if err != nil {
			t.Fatalf("subscribe to %v: %v", topics, err)
		}
		for i, code := range ack.Reasons {
			if code >= 0x80 {
				t.Fatalf("subscribe to %s: reason code 0x%02x", topics[i], code)
			}
		}
	}
	return rc
}

func (rc *rpcClient) receive(pr paho.PublishReceived) (bool, error) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.msgs = append(rc.msgs, pr.Packet)
	close(rc.changed)
	rc.changed = make(chan struct{})
	return true, nil
}

// publish publishes payload at QoS 1 and waits for the broker's PUBACK.
func (rc *rpcClient) publish(ctx context.Context, topic string, payload []byte, props *paho.PublishProperties) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := rc.c.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: payload, Properties: props})
	if err != nil {
		return fmt.Errorf("publish to %s: %w", topic, err)
	}
	if resp != nil && resp.ReasonCode >= 0x80 {
		return fmt.Errorf("publish to %s: reason code 0x%02x", topic, resp.ReasonCode)
	}
	return nil
}

// matching returns the messages received so far that match, in order.
func (rc *rpcClient) matching(match func(*paho.Publish) bool) []*paho.Publish {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []*paho.Publish
	for _, m := range rc.msgs {
		if match(m) {
			out = append(out, m)
		}
	}
	return out
}

// waitN waits up to within for n messages that match and returns those
// received by then, or nil and false.
func (rc *rpcClient) waitN(n int, within time.Duration, match func(*paho.Publish) bool) ([]*paho.Publish, bool) {
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	for {
		rc.mu.Lock()
		changed := rc.changed
		rc.mu.Unlock()
		if got := rc.matching(match); len(got) >= n {
			return got, true
		}
		select {
		case <-changed:
		case <-deadline.C:
			return rc.matching(match), false
		}
	}
}

// rpcRig is an agent running against mosquitto and a client of both.
type rpcRig struct {
	id       string
	topics   contracts.MQTTTopics
	broker   *mqtttest.Broker
	config   string // the agent's configuration file
	stateDir string
	agent    *agentProc
	client   *rpcClient
	replies  string // the response topic of the client's commands
}

// startRPCRig starts mosquitto and the agent, with the sensors given as
// YAML list items, and returns once the agent answers commands.
func startRPCRig(t *testing.T, id, sensorsYAML string) *rpcRig {
	t.Helper()
	r := launchRPCRig(t, id, "sensors:\n"+sensorsYAML)
	r.waitReady(t)
	return r
}

// launchRPCRig starts mosquitto and the agent, whose config ends with
// tail (YAML after its uplink: sensors, and other sections), and returns
// without waiting for the agent.
func launchRPCRig(t *testing.T, id, tail string) *rpcRig {
	t.Helper()
	r := &rpcRig{id: id, broker: mqtttest.Start(t, mqtttest.Options{}), replies: "e2e/replies/" + uuid.NewString()}
	if r.broker.Embedded() {
		t.Log("these RPC tests run against the embedded broker, not mosquitto")
	}
	r.topics, _ = contracts.DeviceTopics(id)
	r.client = dialRPC(t, r.broker.Addr(), "e2e-rpc-"+id, r.replies, r.topics.DLQ, r.topics.Responses)
	r.stateDir = filepath.Join(t.TempDir(), "state")
	r.config = writeConfig(t, fmt.Sprintf(`
deviceId: %s
stateDir: %s
log: {level: info, format: json}
uplink:
  mqtt:
    broker: %s
    connectTimeout: 5s
    backoffMin: 100ms
    backoffMax: 1s
%s`, id, r.stateDir, r.broker.URL(), tail))
	r.agent = startAgent(t, r.config)
	return r
}

// waitReady waits until the agent answers a getDeviceState. The retained
// online status is not enough: the uplink queues it before it subscribes
// to its commands, and a command published in between is not delivered.
func (r *rpcRig) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		id, body := rpcCommand(r.id, "getDeviceState", "", nil)
		r.send(t, body, id, nil)
		if _, ok := r.client.waitN(1, 2*time.Second, r.answerTo(id)); ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the agent answered no getDeviceState within 30 s of its start")
		}
		select {
		case <-r.agent.done:
			t.Fatalf("the agent exited: %v", r.agent.err)
		default:
		}
	}
}

// rpcCommand returns a new device.command.rpc for deviceID, its
// correlationId, with params (JSON; "" for none), expiring in a minute,
// after edit has changed it.
func rpcCommand(deviceID, method, params string, edit func(m map[string]any)) (id string, body []byte) {
	id = uuid.NewString()
	now := time.Now()
	p := map[string]any{"deviceId": deviceID, "method": method, "requestedBy": "e2e-test"}
	if params != "" {
		p["params"] = stdjson.RawMessage(params)
	}
	m := map[string]any{
		"eventType":     "device.command.rpc",
		"correlationId": id,
		"timestamp":     stamp(now),
		"source":        map[string]any{"type": "backend", "id": "e2e-test"},
		"__version":     "v1",
		"expiresAt":     stamp(now.Add(time.Minute)),
		"payload":       p,
	}
	if edit != nil {
		edit(m)
	}
	body, err := stdjson.Marshal(m)
	if err != nil {
		panic(err)
	}
	return id, body
}

// stamp formats t as the contract does.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

// correlation is the Correlation Data the client sends with the command
// id: not the id itself, to show that the agent echoes it as it came.
func correlation(id string) []byte { return []byte("cd-" + id) }

// send publishes the command body on the agent's commands topic with the
// client's response topic and the Correlation Data of id; extra, when not
// nil, gives more properties (the Message Expiry).
func (r *rpcRig) send(t *testing.T, body []byte, id string, extra func(*paho.PublishProperties)) {
	t.Helper()
	props := &paho.PublishProperties{ResponseTopic: r.replies, CorrelationData: correlation(id), ContentType: "application/json"}
	if extra != nil {
		extra(props)
	}
	if err := r.client.publish(context.Background(), r.topics.Commands, body, props); err != nil {
		t.Fatal(err)
	}
}

// answerTo matches the messages on the response topic with the
// Correlation Data of the command id.
func (r *rpcRig) answerTo(id string) func(*paho.Publish) bool {
	cd := correlation(id)
	return func(m *paho.Publish) bool {
		return m.Topic == r.replies && m.Properties != nil && bytes.Equal(m.Properties.CorrelationData, cd)
	}
}

// answer waits for the answer to the command id and checks what every
// answer must be: a device.response.rpc from this device, for that
// command, with its MQTT properties.
func (r *rpcRig) answer(t *testing.T, id string) (*contracts.DeviceResponseRPC, *paho.Publish) {
	t.Helper()
	msgs, ok := r.client.waitN(1, rpcWait, r.answerTo(id))
	if !ok {
		t.Fatalf("no answer to command %s on %s within %v", id, r.replies, rpcWait)
	}
	return r.checkAnswer(t, msgs[0], id), msgs[0]
}

func (r *rpcRig) checkAnswer(t *testing.T, m *paho.Publish, id string) *contracts.DeviceResponseRPC {
	t.Helper()
	msg, err := contracts.Decode(m.Payload)
	if err != nil {
		t.Fatalf("answer %s does not decode: %v", m.Payload, err)
	}
	resp, ok := msg.(*contracts.DeviceResponseRPC)
	switch {
	case !ok:
		t.Fatalf("answer is a %T; want *contracts.DeviceResponseRPC", msg)
	case resp.CorrelationID != id:
		t.Fatalf("answer's correlationId = %s; want the command's, %s", resp.CorrelationID, id)
	case resp.Source.Type != contracts.SourceDevice || resp.Source.ID != r.id || resp.Payload.DeviceID != r.id:
		t.Fatalf("answer from %+v, payload.deviceId %q; want device %s", resp.Source, resp.Payload.DeviceID, r.id)
	case m.Properties.ContentType != "application/json":
		t.Errorf("answer's content type = %q; want application/json", m.Properties.ContentType)
	}
	if got := userProperty(m, contracts.HeaderEventType); got != string(contracts.TypeDeviceResponseRPC) {
		t.Errorf("answer's user property eventType = %q", got)
	}
	if got := userProperty(m, contracts.HeaderCorrelationID); got != id {
		t.Errorf("answer's user property correlationId = %q; want %s", got, id)
	}
	return resp
}

// letterOf matches the dead letters whose raw input is body.
func (r *rpcRig) letterOf(body []byte) func(*paho.Publish) bool {
	return func(m *paho.Publish) bool {
		if m.Topic != r.topics.DLQ {
			return false
		}
		msg, err := contracts.Decode(m.Payload)
		d, ok := msg.(*contracts.SystemDLQ)
		if err != nil || !ok {
			return false
		}
		raw, err := contracts.Bytes(d.Payload.Raw, d.Payload.RawEncoding)
		return err == nil && bytes.Equal(raw, body)
	}
}

func decodeDLQ(t *testing.T, m *paho.Publish) *contracts.SystemDLQ {
	t.Helper()
	msg, err := contracts.Decode(m.Payload)
	if err != nil {
		t.Fatalf("dead letter %s does not decode: %v", m.Payload, err)
	}
	d, ok := msg.(*contracts.SystemDLQ)
	if !ok {
		t.Fatalf("message on the dlq topic is a %T", msg)
	}
	return d
}

// deadLetter waits for the dead letter of body and checks it.
func (r *rpcRig) deadLetter(t *testing.T, body []byte, reason string) *contracts.SystemDLQ {
	t.Helper()
	msgs, ok := r.client.waitN(1, rpcWait, r.letterOf(body))
	if !ok {
		t.Fatalf("no dead letter of %.80s within %v", body, rpcWait)
	}
	if len(msgs) > 1 {
		t.Errorf("%d dead letters of one input; want 1", len(msgs))
	}
	d := decodeDLQ(t, msgs[0])
	if d.Payload.Reason != reason || d.Payload.OriginalTopic != r.topics.Commands || d.Source.ID != r.id || d.Payload.Error == "" {
		t.Errorf("dead letter reason %q, originalTopic %q, source %+v, error %q; want reason %q from %s on %s",
			d.Payload.Reason, d.Payload.OriginalTopic, d.Source, d.Payload.Error, reason, r.id, r.topics.Commands)
	}
	return d
}

// result decodes an answer's result.
func result(t *testing.T, resp *contracts.DeviceResponseRPC) map[string]any {
	t.Helper()
	var m map[string]any
	if err := stdjson.Unmarshal(resp.Payload.Result, &m); err != nil {
		t.Fatalf("result %s: %v", resp.Payload.Result, err)
	}
	return m
}

// sensorNames returns the names of the sensors in a getSensors result.
func sensorNames(t *testing.T, res map[string]any) []string {
	t.Helper()
	list, ok := res["sensors"].([]any)
	if !ok {
		t.Fatalf("result has no sensors list: %v", res)
	}
	var names []string
	for _, s := range list {
		names = append(names, s.(map[string]any)["name"].(string))
	}
	return names
}

func TestRPCErrorCodes(t *testing.T) {
	t.Parallel() // it waits most of its time: beside the other slow end-to-end tests
	// slow never answers in time: each read waits 30 s, and a fresh read
	// waits for its turn besides.
	r := startRPCRig(t, "e2e-rpc-codes", `
  - {name: sim, type: sim, interval: 1s}
  - {name: slow, type: sim, interval: 1m, readDelay: 30s}
`)
	var noLetter [][]byte // commands that must leave no dead letter

	t.Run("getDeviceState", func(t *testing.T) {
		id, body := rpcCommand(r.id, "getDeviceState", "", nil)
		noLetter = append(noLetter, body)
		r.send(t, body, id, nil)
		resp, _ := r.answer(t, id)
		if resp.Status != contracts.StatusSuccess || resp.Payload.Method != "getDeviceState" {
			t.Fatalf("answer status %s, method %s, error %+v; want success", resp.Status, resp.Payload.Method, resp.Error)
		}
		res := result(t, resp)
		if res["deviceId"] != r.id || res["agentVersion"] == "" {
			t.Errorf("result deviceId %v, agentVersion %v", res["deviceId"], res["agentVersion"])
		}
		up, _ := res["uplink"].(map[string]any)
		if up["connected"] != true {
			t.Errorf("result uplink = %v; want connected", res["uplink"])
		}
		if s, _ := res["sensors"].(map[string]any); s["total"] != 2.0 {
			t.Errorf("result sensors = %v; want a total of 2", res["sensors"])
		}
	})

	t.Run("getSensors", func(t *testing.T) {
		id, body := rpcCommand(r.id, "getSensors", "", nil)
		noLetter = append(noLetter, body)
		r.send(t, body, id, nil)
		resp, _ := r.answer(t, id)
		if resp.Status != contracts.StatusSuccess || resp.Payload.Method != "getSensors" {
			t.Fatalf("answer status %s, error %+v; want success", resp.Status, resp.Error)
		}
		if got := sensorNames(t, result(t, resp)); !slices.Equal(got, []string{"sim", "slow"}) {
			t.Errorf("sensors %v; want sim and slow", got)
		}

		// A fresh read of the fast sensor.
		id, body = rpcCommand(r.id, "getSensors", `{"sensors":["sim"],"fresh":true}`, nil)
		noLetter = append(noLetter, body)
		r.send(t, body, id, nil)
		resp, _ = r.answer(t, id)
		if resp.Status != contracts.StatusSuccess {
			t.Fatalf("fresh answer status %s, error %+v; want success", resp.Status, resp.Error)
		}
		s := result(t, resp)["sensors"].([]any)[0].(map[string]any)
		if s["name"] != "sim" || s["health"] != "ok" || len(s["readings"].([]any)) != 3 {
			t.Errorf("fresh sim = %v; want ok with 3 readings", s)
		}
	})

	refusals := []struct {
		name    string
		method  string
		edit    func(m map[string]any)
		code    string
		reason  string
		message string // a part of the error message
	}{
		{"INVALID_COMMAND", "getDeviceState", func(m map[string]any) { delete(m["payload"].(map[string]any), "requestedBy") },
			contracts.CodeInvalidCommand, contracts.DLQInvalid, "payload.requestedBy"},
		// A v2 payload is not read: the answer names no method.
		{"UNSUPPORTED_VERSION", "getDeviceState", func(m map[string]any) { m["__version"] = "v2" },
			contracts.CodeUnsupportedVersion, contracts.DLQUnsupportedVersion, "v2"},
		{"METHOD_NOT_FOUND", "reboot", nil,
			contracts.CodeMethodNotFound, contracts.DLQInvalid, "reboot"},
		{"WRONG_DEVICE", "getDeviceState", func(m map[string]any) { m["payload"].(map[string]any)["deviceId"] = "another-gw" },
			contracts.CodeWrongDevice, contracts.DLQWrongDevice, "another-gw"},
		{"EXPIRED", "getDeviceState", func(m map[string]any) {
			m["timestamp"] = stamp(time.Now().Add(-2 * time.Minute))
			m["expiresAt"] = stamp(time.Now().Add(-time.Minute))
		}, contracts.CodeExpired, contracts.DLQExpired, "expired"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			id, body := rpcCommand(r.id, tt.method, "", tt.edit)
			r.send(t, body, id, nil)
			resp, _ := r.answer(t, id)
			if resp.Status != contracts.StatusError || resp.Error == nil || resp.Error.Code != tt.code {
				t.Fatalf("answer status %s, error %+v; want %s", resp.Status, resp.Error, tt.code)
			}
			if !strings.Contains(resp.Error.Message, tt.message) {
				t.Errorf("error message %q does not name %q", resp.Error.Message, tt.message)
			}
			wantMethod := tt.method
			if tt.code == contracts.CodeUnsupportedVersion {
				wantMethod = "(none)"
			}
			if resp.Payload.Method != wantMethod {
				t.Errorf("answer's method = %q; want %q", resp.Payload.Method, wantMethod)
			}
			// The dead letter of an answerable command carries its
			// correlationId, to trace it to its sender.
			if d := r.deadLetter(t, body, tt.reason); d.CorrelationID != id {
				t.Errorf("the %s dead letter's correlationId is %s; want the command's, %s", tt.reason, d.CorrelationID, id)
			}
		})
	}

	t.Run("unanswerable", func(t *testing.T) {
		// No correlationId: nothing to answer; a dead letter only.
		_, body := rpcCommand(r.id, "getDeviceState", "", func(m map[string]any) { delete(m, "correlationId") })
		if err := r.client.publish(context.Background(), r.topics.Commands, body, nil); err != nil {
			t.Fatal(err)
		}
		r.deadLetter(t, body, contracts.DLQUnanswerable)
	})

	t.Run("INVALID_COMMAND params", func(t *testing.T) {
		// A method refuses its params: the message names the member.
		id, body := rpcCommand(r.id, "getSensors", `{"sensors":["nope"]}`, nil)
		r.send(t, body, id, nil)
		resp, _ := r.answer(t, id)
		if resp.Status != contracts.StatusError || resp.Error.Code != contracts.CodeInvalidCommand ||
			!strings.Contains(resp.Error.Message, "params.sensors") {
			t.Fatalf("answer status %s, error %+v; want INVALID_COMMAND naming params.sensors", resp.Status, resp.Error)
		}
		if d := r.deadLetter(t, body, contracts.DLQInvalid); d.CorrelationID != id {
			t.Errorf("the dead letter's correlationId is %s; want the command's, %s", d.CorrelationID, id)
		}
	})

	t.Run("INTERNAL", func(t *testing.T) {
		// A method panics: the answer is INTERNAL, with no dead letter (the
		// command was fine), and the agent goes on answering.
		id, body := rpcCommand(r.id, "getSensors", `{"sensors":["`+panicSensor+`"]}`, nil)
		noLetter = append(noLetter, body)
		r.send(t, body, id, nil)
		resp, _ := r.answer(t, id)
		if resp.Status != contracts.StatusError || resp.Error.Code != contracts.CodeInternal ||
			!strings.Contains(resp.Error.Message, "getSensors failed: "+plantedBug) {
			t.Fatalf("answer status %s, error %+v; want INTERNAL naming the panic", resp.Status, resp.Error)
		}
		id, body = rpcCommand(r.id, "getSensors", `{"sensors":["sim"]}`, nil)
		noLetter = append(noLetter, body)
		r.send(t, body, id, nil)
		if resp, _ := r.answer(t, id); resp.Status != contracts.StatusSuccess {
			t.Fatalf("after the panic: answer status %s, error %+v; want success", resp.Status, resp.Error)
		}
		if log := r.agent.stderr.String(); !strings.Contains(log, "rpc: method panicked") || !strings.Contains(log, plantedBug) {
			t.Error("the agent's log does not show the panic")
		}
	})

	const slowParams = `{"sensors":["slow"],"fresh":true}`
	t.Run("TIMEOUT", func(t *testing.T) {
		// By expiresAt, and by the MQTT Message Expiry (no expiresAt):
		// either bounds the method's deadline, well before the default
		// 10 s. Both at once, to save time.
		byExpiresAt, body1 := rpcCommand(r.id, "getSensors", slowParams, func(m map[string]any) {
			m["expiresAt"] = stamp(time.Now().Add(3 * time.Second))
		})
		byMQTT, body2 := rpcCommand(r.id, "getSensors", slowParams, func(m map[string]any) { delete(m, "expiresAt") })
		noLetter = append(noLetter, body1, body2)
		r.send(t, body1, byExpiresAt, nil)
		r.send(t, body2, byMQTT, func(p *paho.PublishProperties) {
			two := uint32(2)
			p.MessageExpiry = &two
		})
		for _, id := range []string{byExpiresAt, byMQTT} {
			resp, _ := r.answer(t, id)
			if resp.Status != contracts.StatusError || resp.Error.Code != contracts.CodeTimeout ||
				!strings.Contains(resp.Error.Message, "getSensors did not finish within") {
				t.Fatalf("answer status %s, error %+v; want TIMEOUT", resp.Status, resp.Error)
			}
			if id == byMQTT && !strings.Contains(resp.Error.Message, "within 1s") && !strings.Contains(resp.Error.Message, "within 2s") {
				t.Errorf("TIMEOUT by Message Expiry 2: %q; want a deadline of 1 or 2 s", resp.Error.Message)
			}
		}
	})

	t.Run("BUSY", func(t *testing.T) {
		// More slow commands at once than may run: those beyond
		// rpc.DefaultConcurrency are answered BUSY at once, the others
		// TIMEOUT when their expiresAt comes.
		n := rpc.DefaultConcurrency + 4
		ids := make([]string, n)
		expires := stamp(time.Now().Add(6 * time.Second))
		for i := range ids {
			var body []byte
			ids[i], body = rpcCommand(r.id, "getSensors", slowParams, func(m map[string]any) { m["expiresAt"] = expires })
			noLetter = append(noLetter, body)
			r.send(t, body, ids[i], nil)
		}
		codes := map[string]int{}
		for _, id := range ids {
			resp, _ := r.answer(t, id)
			if resp.Status != contracts.StatusError {
				t.Fatalf("answer status %s; want error", resp.Status)
			}
			codes[resp.Error.Code]++
			if resp.Error.Code == contracts.CodeBusy && !strings.Contains(resp.Error.Message, "commands are running already") {
				t.Errorf("BUSY message %q", resp.Error.Message)
			}
		}
		t.Logf("answers of %d slow commands at once: %v", n, codes)
		if codes[contracts.CodeBusy] < 1 || codes[contracts.CodeBusy]+codes[contracts.CodeTimeout] != n {
			t.Errorf("answers %v; want BUSY (at least one) and TIMEOUT only", codes)
		}
	})

	// Successes, TIMEOUT and BUSY are the device's outcomes, not bad
	// input: no dead letter. The refusals' letters came already, and the
	// agent queues a command's answer and its letter together, so any
	// letter of these would be here by now.
	for _, body := range noLetter {
		if ds := r.client.matching(r.letterOf(body)); len(ds) > 0 {
			t.Errorf("a dead letter for %.100s; want none: %s", body, ds[0].Payload)
		}
	}
	if n := strings.Count(r.agent.stderr.String(), "panicked"); n != 1 {
		t.Errorf("the agent's log shows %d panics; want the planted one", n)
	}
}

// panicSensor is a sensor name that makes getSensors panic in the agent
// under test, with the message plantedBug: see panicOnSensor.
const (
	panicSensor = "e2e-panic"
	plantedBug  = "a bug planted by the e2e tests"
)

// panicOnSensor is the agent's rpcTestHook in these tests: the sensors'
// Status panics when asked for panicSensor, as a bug in a method would.
func panicOnSensor(d rpc.Deps) rpc.Deps {
	d.Sensors = panickingSensors{d.Sensors}
	return d
}

type panickingSensors struct{ rpc.Sensors }

func (s panickingSensors) Status(names ...string) ([]sensors.Status, error) {
	if slices.Contains(names, panicSensor) {
		panic(plantedBug)
	}
	return s.Sensors.Status(names...)
}

func TestRPCInteropClients(t *testing.T) {
	r := startRPCRig(t, "e2e-rpc-interop", "  - {name: sim, type: sim, interval: 1s}\n")

	t.Run("mosquitto_rr", func(t *testing.T) {
		bin := mqtttest.LookClient(t, "mosquitto_rr")
		_, port, _ := net.SplitHostPort(r.broker.Addr())
		id, body := rpcCommand(r.id, "getSensors", "", nil)
		replyTo := "e2e/mosquitto_rr/" + uuid.NewString()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var stdout, stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, bin, "-V", "5", "-h", "127.0.0.1", "-p", port, "-q", "1",
			"-t", r.topics.Commands, "-e", replyTo, "-m", string(body), "-W", "10")
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("mosquitto_rr: %v\nstdout: %s\nstderr: %s", err, stdout.Bytes(), stderr.Bytes())
		}
		msg, err := contracts.Decode(bytes.TrimSpace(stdout.Bytes()))
		if err != nil {
			t.Fatalf("mosquitto_rr printed %q, not a response: %v", stdout.Bytes(), err)
		}
		resp, ok := msg.(*contracts.DeviceResponseRPC)
		if !ok || resp.CorrelationID != id || resp.Status != contracts.StatusSuccess || resp.Payload.DeviceID != r.id {
			t.Fatalf("mosquitto_rr printed %s; want the success device.response.rpc of %s", stdout.Bytes(), id)
		}
		if got := sensorNames(t, result(t, resp)); !slices.Equal(got, []string{"sim"}) {
			t.Errorf("sensors %v; want sim", got)
		}
	})

	t.Run("agent call", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var stdout, stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, os.Args[0], "call", "--broker", r.broker.URL(), "--device", r.id, "--timeout", "15s", "getDeviceState")
		cmd.Env = append(os.Environ(), beMain+"=1", "IOT_HUB_MQTT_USERNAME=", "IOT_HUB_MQTT_PASSWORD=")
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("agent call: %v (want exit 0)\nstdout: %s\nstderr: %s", err, stdout.Bytes(), stderr.Bytes())
		}
		msg, err := contracts.Decode(stdout.Bytes())
		if err != nil {
			t.Fatalf("agent call printed %q, not a response: %v", stdout.Bytes(), err)
		}
		resp, ok := msg.(*contracts.DeviceResponseRPC)
		if !ok || resp.Status != contracts.StatusSuccess || resp.Payload.Method != "getDeviceState" || resp.Payload.DeviceID != r.id {
			t.Fatalf("agent call printed %s; want a success getDeviceState answer from %s", stdout.Bytes(), r.id)
		}
		if stderr.Len() != 0 {
			t.Errorf("agent call wrote to stderr: %s", stderr.Bytes())
		}
	})
}

// stormInputs returns n bad inputs for the commands topic, from rng:
// mutations of the golden messages of contracts/testdata (the fuzz
// corpus's seeds; the golden command is for another device), random
// bytes, and huge inputs over rpc.DefaultMaxCommandBytes. It returns how
// many are huge.
func stormInputs(t *testing.T, rng *rand.Rand, n int) (inputs [][]byte, huge int) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "contracts", "testdata", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden messages in contracts/testdata: %v", err)
	}
	if fuzz, _ := filepath.Glob(filepath.Join("..", "..", "contracts", "testdata", "fuzz", "*", "*")); len(fuzz) > 0 {
		files = append(files, fuzz...) // the fuzz corpus proper, where there is one
	}
	var seeds [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	randBytes := func(k int) []byte {
		b := make([]byte, k)
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		return b
	}
	huge = n / 20
	for i := range n {
		var in []byte
		switch {
		case i < huge:
			size := rpc.DefaultMaxCommandBytes + 1 + rng.IntN(3*rpc.DefaultMaxCommandBytes)
			if i%2 == 0 {
				in = randBytes(size)
			} else { // a command, but padded too large
				_, cmd := rpcCommand("e2e-rpc-storm", "getDeviceState", fmt.Sprintf(`{"pad":%q}`, strings.Repeat("x", size)), nil)
				in = cmd
			}
		case i%2 == 0:
			in = randBytes(rng.IntN(300))
		default:
			in = slices.Clone(seeds[rng.IntN(len(seeds))])
			switch rng.IntN(4) {
			case 0: // cut short
				in = in[:rng.IntN(len(in))]
			case 1: // bytes changed
				for range 1 + rng.IntN(8) {
					in[rng.IntN(len(in))] = byte(rng.UintN(256))
				}
			case 2: // bytes inserted
				at := rng.IntN(len(in))
				in = slices.Concat(in[:at], randBytes(1+rng.IntN(16)), in[at:])
			case 3: // as it is: a valid message, but no command this device runs
			}
		}
		inputs = append(inputs, in)
	}
	return inputs, huge
}

func TestRPCStorm(t *testing.T) {
	r := startRPCRig(t, "e2e-rpc-storm", "  - {name: sim, type: sim, interval: 1s}\n")
	seed := uint64(time.Now().UnixNano())
	t.Logf("storm seed %d", seed)
	inputs, huge := stormInputs(t, rand.New(rand.NewPCG(seed, 1)), 1000)

	// The storm comes from a client of its own, four publishers at once,
	// at QoS 1 (the broker drops none).
	storm := dialRPC(t, r.broker.Addr(), "e2e-rpc-storm-publisher")
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() }) // before the client disconnects
	errs := make(chan error, len(inputs))
	next := make(chan []byte, len(inputs))
	for _, in := range inputs {
		next <- in
	}
	close(next)
	for range 4 {
		wg.Go(func() {
			for in := range next {
				if err := storm.publish(ctx, r.topics.Commands, in, nil); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	stormDone := make(chan struct{})
	go func() { wg.Wait(); close(stormDone) }()

	// Meanwhile, valid commands keep being answered, and after.
	calls := 0
	for more := true; more; calls++ {
		select {
		case <-stormDone:
			more = false
		default:
		}
		id, body := rpcCommand(r.id, "getDeviceState", "", nil)
		r.send(t, body, id, nil)
		if resp, _ := r.answer(t, id); resp.Status != contracts.StatusSuccess {
			t.Fatalf("getDeviceState during the storm: status %s, error %+v", resp.Status, resp.Error)
		}
	}
	close(errs)
	for err := range errs {
		t.Fatalf("storm: %v", err)
	}
	t.Logf("%d getDeviceState answered during and after the storm of %d inputs", calls, len(inputs))

	// Every input is dead-lettered once, with its bytes (the first KiB of
	// a huge one).
	isLetter := func(m *paho.Publish) bool { return m.Topic == r.topics.DLQ }
	letters, ok := r.client.waitN(len(inputs), 60*time.Second, isLetter)
	if !ok {
		t.Fatalf("%d dead letters of %d inputs within 60 s", len(letters), len(inputs))
	}
	time.Sleep(500 * time.Millisecond) // for any letter more
	letters = r.client.matching(isLetter)
	if len(letters) != len(inputs) {
		t.Errorf("%d dead letters of %d inputs; want one each", len(letters), len(inputs))
	}
	want := map[string]int{} // the inputs not huge
	for _, in := range inputs {
		if len(in) <= rpc.DefaultMaxCommandBytes {
			want[string(in)]++
		}
	}
	reasons := map[string]int{}
	var extra, missing []string // inputs dead-lettered once too often, or never
	for _, m := range letters {
		d := decodeDLQ(t, m)
		reasons[d.Payload.Reason]++
		raw, err := contracts.Bytes(d.Payload.Raw, d.Payload.RawEncoding)
		if err != nil {
			t.Fatalf("dead letter raw: %v", err)
		}
		if d.Payload.Reason == contracts.DLQTooLarge {
			if len(raw) != 1<<10 {
				t.Errorf("too_large dead letter keeps %d bytes; want the first 1024", len(raw))
			}
			continue
		}
		if want[string(raw)] == 0 {
			extra = append(extra, fmt.Sprintf("%s %.60q", d.Payload.Reason, raw))
			continue
		}
		want[string(raw)]--
	}
	for in, k := range want {
		for range k {
			missing = append(missing, fmt.Sprintf("%.60q", in))
		}
	}
	if len(extra) > 0 {
		t.Errorf("%d dead letters of inputs not sent, or sent fewer times; the first: %s", len(extra), strings.Join(extra[:min(5, len(extra))], "; "))
	}
	if len(missing) > 0 {
		t.Errorf("%d inputs have no dead letter; the first: %s", len(missing), strings.Join(missing[:min(5, len(missing))], "; "))
	}
	t.Logf("dead letters by reason: %v", reasons)
	if reasons[contracts.DLQTooLarge] != huge || reasons[contracts.DLQMalformed] == 0 {
		t.Errorf("dead letters by reason %v; want %d too_large and some malformed", reasons, huge)
	}

	// The agent is still running, answers, and stops cleanly.
	select {
	case <-r.agent.done:
		t.Fatalf("the agent exited during the storm: %v", r.agent.err)
	default:
	}
	id, body := rpcCommand(r.id, "getDeviceState", "", nil)
	r.send(t, body, id, nil)
	if resp, _ := r.answer(t, id); resp.Status != contracts.StatusSuccess {
		t.Fatalf("getDeviceState after the storm: status %s", resp.Status)
	}
	if code := r.agent.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit code after SIGTERM = %d; want 0", code)
	}
	// Bad input costs the agent nothing but dead letters: no error, and
	// not its connection (which would bring every input not yet
	// acknowledged again).
	for line := range strings.Lines(r.agent.stderr.String()) {
		if strings.Contains(line, `"level":"ERROR"`) || strings.Contains(line, "panicked") || strings.Contains(line, "mqtt: connection lost") {
			t.Errorf("agent logged %s", strings.TrimSpace(line))
		}
	}
}

func TestRPCRestartAnswersOnce(t *testing.T) {
	t.Parallel() // it waits most of its time: beside the other slow end-to-end tests
	// Each read of slow takes 3 s: a fresh read is in progress when the
	// agent is killed.
	r := startRPCRig(t, "e2e-rpc-restart", "  - {name: slow, type: sim, interval: 1m, readDelay: 3s}\n")
	id, body := rpcCommand(r.id, "getSensors", `{"fresh":true}`, nil)
	r.send(t, body, id, nil)
	// The broker delivers a session's messages in order, and the agent
	// takes them in order: once it answers a command sent after, it has
	// the slow one.
	probe, probeBody := rpcCommand(r.id, "getDeviceState", "", nil)
	r.send(t, probeBody, probe, nil)
	r.answer(t, probe)
	if err := r.agent.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-r.agent.done
	if n := len(r.client.matching(r.answerTo(id))); n != 0 {
		t.Fatalf("the slow command was answered before the agent was killed; the test needs it in progress")
	}

	// It was not acknowledged: the broker delivers it again to the agent
	// restarted, which runs it, once.
	r.agent = startAgent(t, r.config)
	resp, first := r.answer(t, id)
	if resp.Status != contracts.StatusSuccess {
		t.Fatalf("answer after the restart: status %s, error %+v; want success", resp.Status, resp.Error)
	}
	res := result(t, resp)
	s := res["sensors"].([]any)[0].(map[string]any)
	if s["name"] != "slow" || s["health"] != "ok" {
		t.Errorf("slow = %v; want read ok", s)
	}
	time.Sleep(3 * time.Second) // for any answer more
	if n := len(r.client.matching(r.answerTo(id))); n != 1 {
		t.Errorf("%d answers to the command; want exactly 1", n)
	}
	answered := func(msg string) int {
		n := 0
		for line := range strings.Lines(r.agent.stderr.String()) {
			if strings.Contains(line, `"msg":"`+msg+`"`) && strings.Contains(line, `"correlationId":"`+id+`"`) {
				n++
			}
		}
		return n
	}
	if n := answered("rpc: answered"); n != 1 {
		t.Errorf("the restarted agent logged %d answers to the command; want 1", n)
	}

	// Sent again, it gets the same answer, kept: not run again (a run
	// would read the sensor anew, at another time, and take another
	// duration). The sensor's own scheduled reads go on meanwhile, so its
	// seq file tells nothing here.
	r.send(t, body, id, nil)
	msgs, ok := r.client.waitN(2, rpcWait, r.answerTo(id))
	if !ok {
		t.Fatalf("no answer to the command sent again within %v", rpcWait)
	}
	r.checkAnswer(t, msgs[1], id)
	if !bytes.Equal(msgs[1].Payload, first.Payload) {
		t.Errorf("answer to the command sent again:\n%s\nwant the first answer:\n%s", msgs[1].Payload, first.Payload)
	}
	r.agent.waitLog(t, fmt.Sprintf(`"msg":"rpc: answered again: the command was run before","method":"getSensors","correlationId":%q`, id), rpcWait)
	if n := answered("rpc: answered"); n != 1 {
		t.Errorf("the agent logged %d runs of the command; want 1", n)
	}
}
