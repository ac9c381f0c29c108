package main

// End-to-end tests: the agent runs as a child process (this test binary,
// made the agent by beMain), against a broker, and a paho client watches
// its topics.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/iot-hub/agent/agent/broker"
	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/internal/freeport"
	"github.com/iot-hub/agent/internal/syncbuf"
)

// agentProc is the agent running as a child process.
type agentProc struct {
	cmd    *exec.Cmd
	stderr *syncbuf.Buffer
	done   chan struct{} // closed when it has exited
	err    error         // of Wait, once done
}

// startAgent runs "agent run --config path"; the test's cleanup kills it
// if it is still running, and shows its log when the test failed.
func startAgent(t testing.TB, path string) *agentProc {
	t.Helper()
	return startAgentWith(t, path)
}

// startAgentWith is startAgent with more environment variables,
// "KEY=value".
func startAgentWith(t testing.TB, path string, env ...string) *agentProc {
	t.Helper()
	p := &agentProc{stderr: new(syncbuf.Buffer), done: make(chan struct{})}
	p.cmd = exec.Command(os.Args[0], "run", "--config", path)
	p.cmd.Env = append(append(os.Environ(), beMain+"=1", "IOT_HUB_MQTT_USERNAME=", "IOT_HUB_MQTT_PASSWORD="), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.stderr, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("agent log:\n%s", p.stderr.String())
		}
	})
	return p
}

// stop sends sig and returns the exit code, failing the test when the
// agent does not exit within 30 s.
func (p *agentProc) stop(t testing.TB, sig os.Signal) int {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("the agent did not exit within 30 s of %v", sig)
	}
	if exit, ok := errors.AsType[*exec.ExitError](p.err); ok {
		return exit.ExitCode()
	}
	if p.err != nil {
		t.Fatalf("wait: %v", p.err)
	}
	return 0
}

// waitExit waits up to within for the agent to exit by itself, failing
// the test with why when it does not.
func (p *agentProc) waitExit(t *testing.T, within time.Duration, why string) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(within):
		t.Fatalf("%s (still running after %v)", why, within)
	}
}

// waitLog waits up to within for the agent's log to hold s.
func (p *agentProc) waitLog(t *testing.T, s string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !strings.Contains(p.stderr.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("agent log lacks %s after %v", s, within)
		}
		select {
		case <-p.done:
			t.Fatalf("agent exited (%v); its log lacks %s", p.err, s)
		case <-time.After(20 * time.Millisecond): // poll
		}
	}
}

// loggedAt returns the time, by the agent's clock, of the first line of
// its JSON log at or after since whose msg is msg and whose attributes
// hold attrs (key, value, ...; string values). It fails the test when
// there is none. A duration between such times is the agent's own: the
// test's delays in seeing what happened are not part of it.
func (p *agentProc) loggedAt(t *testing.T, since time.Time, msg string, attrs ...string) time.Time {
	t.Helper()
lines:
	for line := range strings.Lines(p.stderr.String()) {
		var l map[string]any
		if json.Unmarshal([]byte(line), &l) != nil || l["msg"] != msg {
			continue
		}
		for i := 0; i+1 < len(attrs); i += 2 {
			if l[attrs[i]] != attrs[i+1] {
				continue lines
			}
		}
		text, _ := l["time"].(string)
		at, err := time.Parse(time.RFC3339Nano, text)
		if err != nil {
			t.Fatalf("agent log line without a time: %s", line)
		}
		if !at.Before(since) {
			return at
		}
	}
	t.Fatalf("agent log lacks %q with %q at or after %v", msg, attrs, since)
	return time.Time{}
}

// subscriber is an MQTT v5 client that records what it receives.
type subscriber struct {
	c    *paho.Client
	msgs chan *paho.Publish
}

// subscribe connects to addr, retrying until within has passed (the
// embedded broker starts with the agent), and subscribes to topics.
func subscribe(t *testing.T, addr, id string, within time.Duration, topics ...string) *subscriber {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	s := &subscriber{msgs: make(chan *paho.Publish, 1024)}
	for {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			s.c = paho.NewClient(paho.ClientConfig{Conn: conn, OnPublishReceived: []func(paho.PublishReceived) (bool, error){
				func(pr paho.PublishReceived) (bool, error) {
					select {
					case s.msgs <- pr.Packet:
					default: // the test has what it needs
					}
					return true, nil
				},
			}})
			if _, err = s.c.Connect(ctx, &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 30}); err == nil {
				break
			}
			<-s.c.Done()
		}
		if ctx.Err() != nil {
			t.Fatalf("connect to %s: %v", addr, err)
		}
		select { // retry after a short pause, up to the deadline
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Cleanup(func() {
		_ = s.c.Disconnect(&paho.Disconnect{})
		<-s.c.Done()
	})
	subs := make([]paho.SubscribeOptions, len(topics))
	for i, topic := range topics {
		subs[i] = paho.SubscribeOptions{Topic: topic, QoS: 1}
	}
	if _, err := s.c.Subscribe(ctx, &paho.Subscribe{Subscriptions: subs}); err != nil {
		t.Fatalf("subscribe to %v: %v", topics, err)
	}
	return s
}

// next returns the next message on topic, or nil when none comes within
// d.
func (s *subscriber) next(topic string, d time.Duration) *paho.Publish {
	deadline := time.After(d)
	for {
		select {
		case m := <-s.msgs:
			if m.Topic == topic {
				return m
			}
		case <-deadline:
			return nil
		}
	}
}

// retainedStatus returns the status in the retained message of topic, or
// "" when none arrives within a second.
func retainedStatus(t *testing.T, addr, topic string, n int) contracts.DeviceStatus {
	t.Helper()
	s := subscribe(t, addr, fmt.Sprintf("e2e-status-%d", n), 5*time.Second, topic)
	defer func() {
		_ = s.c.Disconnect(&paho.Disconnect{})
		<-s.c.Done()
	}()
	m := s.next(topic, time.Second)
	if m == nil || !m.Retain {
		return ""
	}
	msg, err := contracts.Decode(m.Payload)
	if err != nil {
		t.Fatalf("Decode(status %s) = %v", m.Payload, err)
	}
	sc, ok := msg.(*contracts.DeviceStatusChanged)
	if !ok {
		t.Fatalf("status message is a %T; want *contracts.DeviceStatusChanged", msg)
	}
	return sc.Payload.Status
}

// waitStatus waits up to within for the retained status of topic to be
// want.
func waitStatus(t *testing.T, addr, topic string, want contracts.DeviceStatus, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for n := 0; ; n++ {
		got := retainedStatus(t, addr, topic, n)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("retained status of %s = %q; want %q within %v", topic, got, want, within)
		}
	}
}

// waitTelemetry waits up to 15 s for a telemetry message with readings
// of sensor, checks it and returns those readings (the message may hold
// other sensors' too: those of one window share it).
func waitTelemetry(t *testing.T, s *subscriber, topic, deviceID, sensor string) []contracts.Reading {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		m := s.next(topic, time.Until(deadline))
		if m == nil {
			break
		}
		msg, err := contracts.Decode(m.Payload)
		if err != nil {
			t.Fatalf("Decode(telemetry %s) = %v", m.Payload, err)
		}
		tm, ok := msg.(*contracts.DeviceTelemetry)
		if !ok {
			t.Fatalf("telemetry message is a %T", msg)
		}
		if tm.Source.ID != deviceID || tm.Payload.DeviceID != deviceID {
			t.Fatalf("telemetry from %q (deviceId %q); want %q", tm.Source.ID, tm.Payload.DeviceID, deviceID)
		}
		if got := userProperty(m, "eventType"); got != "device.telemetry" {
			t.Errorf("user property eventType = %q; want device.telemetry", got)
		}
		if got := userProperty(m, "correlationId"); got != tm.CorrelationID {
			t.Errorf("user property correlationId = %q; want %q", got, tm.CorrelationID)
		}
		var rs []contracts.Reading
		for _, r := range tm.Payload.Readings {
			if r.Sensor == sensor {
				rs = append(rs, r)
			}
		}
		if len(rs) > 0 {
			return rs
		}
	}
	t.Fatalf("no telemetry from sensor %q within 15 s", sensor)
	return nil
}

func userProperty(m *paho.Publish, key string) string {
	if m.Properties == nil {
		return ""
	}
	return m.Properties.User.Get(key)
}

// fakeThermal makes a thermal-zone directory with one zone at 42.5 °C.
func fakeThermal(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "thermal_zone0"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "thermal_zone0", "temp"), []byte("42500\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// freeAddr returns a loopback address with a port that was free a moment
// ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	port, err := freeport.Port() // not one mqtttest's brokers were given
	if err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

func TestRunPublishesAndStops(t *testing.T) {
	b, err := broker.Start(broker.Config{Settings: broker.Settings{Listen: "127.0.0.1:0"}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const id = "e2e-gw"
	topics, _ := contracts.DeviceTopics(id)
	sub := subscribe(t, b.Addr(), "e2e-sub", 5*time.Second, topics.Telemetry)

	stateDir := filepath.Join(t.TempDir(), "state")
	path := writeConfig(t, fmt.Sprintf(`
deviceId: %s
stateDir: %s
log: {level: debug, format: json}
uplink:
  mqtt:
    broker: %s
    connectTimeout: 5s
    backoffMin: 100ms
    backoffMax: 1s
sensors:
  - {name: sim, type: sim, interval: 200ms}
  - {name: board, type: thermal, interval: 200ms, path: %s}
  - {name: absent, type: thermal, path: %s}
`, id, stateDir, b.URL(), fakeThermal(t), t.TempDir()))
	agent := startAgent(t, path)

	sim := waitTelemetry(t, sub, topics.Telemetry, id, "sim")
	metrics := map[string]bool{}
	for _, r := range sim {
		metrics[r.Metric] = true
	}
	if !metrics["temperature"] || !metrics["humidity"] || !metrics["seq"] {
		t.Errorf("sim readings %+v; want temperature, humidity and seq", sim)
	}
	board := waitTelemetry(t, sub, topics.Telemetry, id, "board")
	if r := board[0]; len(board) != 1 || r.Metric != "thermal_zone0" || r.Value != 42.5 || r.Unit != "Cel" {
		t.Errorf("thermal readings %+v; want thermal_zone0 42.5 Cel", board)
	}
	waitStatus(t, b.Addr(), topics.Status, contracts.DeviceOnline, 10*time.Second)

	// The online status is queued once the uplink has subscribed to its
	// commands: a command sent now reaches it; this one is not JSON, so it
	// becomes a dead letter, logged without its payload.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	const secret = "command-payload-not-for-logs"
	if _, err := sub.c.Publish(ctx, &paho.Publish{Topic: topics.Commands, QoS: 1, Payload: []byte(secret)}); err != nil {
		t.Fatalf("publish a command: %v", err)
	}
	agent.waitLog(t, fmt.Sprintf(`"msg":"rpc: dead letter","reason":"malformed","topic":%q,"bytes":%d`,
		topics.Commands, len(secret)), 10*time.Second)

	if code := agent.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d; want 0", code)
	}
	waitStatus(t, b.Addr(), topics.Status, contracts.DeviceOffline, 10*time.Second)

	log := agent.stderr.String()
	for _, want := range []string{
		`"msg":"telemetry queued","sensor":"sim"`,
		`"msg":"mqtt: connected"`,
		`"msg":"sensor skipped: its source is absent","sensor":"absent"`,
		`"msg":"agent stopping","signal":"terminated"`,
		`"msg":"agent stopped"`,
	} {
		if !strings.Contains(log, want) {
			t.Errorf("agent log lacks %s", want)
		}
	}
	if strings.Contains(log, secret) {
		t.Errorf("agent log shows a command's payload")
	}
	if _, err := os.Stat(filepath.Join(stateDir, "outbox.db")); err != nil {
		t.Errorf("outbox file: %v", err)
	}
	if fi, err := os.Stat(stateDir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("state dir: %v, %v; want mode 0700", fi.Mode(), err)
	}
}

func TestRunEmbeddedBroker(t *testing.T) {
	addr := freeAddr(t)
	const id = "e2e-embedded"
	topics, _ := contracts.DeviceTopics(id)
	path := writeConfig(t, fmt.Sprintf(`
deviceId: %s
stateDir: %s
log: {format: json}
uplink:
  mqtt:
    embeddedBroker: {enabled: true, listen: "%s"}
sensors:
  - {name: sim, type: sim, interval: 200ms}
`, id, t.TempDir(), addr))
	agent := startAgent(t, path)

	sub := subscribe(t, addr, "e2e-sub", 15*time.Second, topics.Telemetry)
	waitTelemetry(t, sub, topics.Telemetry, id, "sim")
	waitStatus(t, addr, topics.Status, contracts.DeviceOnline, 10*time.Second)
	// A SIGHUP on a plain-TCP broker is logged, and changes nothing.
	if err := agent.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	agent.waitLog(t, `"msg":"SIGHUP: the broker is not TLS; nothing to reload"`, 10*time.Second)
	if code := agent.stop(t, syscall.SIGINT); code != 0 {
		t.Fatalf("exit code after SIGINT = %d; want 0", code)
	}
	log := agent.stderr.String()
	if !strings.Contains(log, `"msg":"embedded MQTT broker listening","addr":"`+addr+`"`) {
		t.Errorf("agent log lacks the embedded broker's address")
	}
	// A clean run: nothing at warn level or above.
	for line := range strings.Lines(log) {
		if strings.Contains(line, `"level":"WARN"`) || strings.Contains(line, `"level":"ERROR"`) {
			t.Errorf("agent logged %s", strings.TrimSpace(line))
		}
	}
}
