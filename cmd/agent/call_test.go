package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/internal/mqtttest"
)

// reply is one message a fake device publishes to a command's response
// topic.
type reply struct {
	// correlation is the Correlation Data; nil means the command's.
	correlation []byte
	// body is the payload.
	body []byte
}

// received is a command as a fake device got it.
type received struct {
	pub *paho.Publish
	cmd *contracts.DeviceCommandRPC
}

// fakeDevice is a device's RPC end for the tests: a paho client subscribed
// to the device's commands topic that decodes each command and publishes
// the replies its answer function gives to the command's Response Topic.
type fakeDevice struct {
	t        *testing.T
	id       string
	client   *paho.Client
	answer   func(cmd *contracts.DeviceCommandRPC) []reply
	received chan received // every command, for the test to check
}

// startDevice connects a fake device to b (with the broker's client
// certificate when it has TLS) and returns once it is subscribed. It
// disconnects when the test ends.
func startDevice(t *testing.T, b *mqtttest.Broker, id string, answer func(cmd *contracts.DeviceCommandRPC) []reply) *fakeDevice {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var conn net.Conn
	var err error
	if cfg := b.TLSConfig(); cfg != nil {
		d := tls.Dialer{Config: cfg}
		conn, err = d.DialContext(ctx, "tcp", b.Addr())
	} else {
		var d net.Dialer
		conn, err = d.DialContext(ctx, "tcp", b.Addr())
	}
	if err != nil {
		t.Fatalf("device %s: dial: %v", id, err)
	}
	d := &fakeDevice{t: t, id: id, answer: answer, received: make(chan received, 16)}
	commands := make(chan *paho.Publish, 16)
	d.client = paho.NewClient(paho.ClientConfig{
		Conn: packets.NewThreadSafeConn(conn),
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			commands <- pr.Packet // the tests send a few commands at most
			return true, nil
		}},
	})
	if _, err := d.client.Connect(ctx, &paho.Connect{ClientID: "fake-device-" + id, CleanStart: true, KeepAlive: 30}); err != nil {
		t.Fatalf("device %s: connect: %v", id, err)
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case p := <-commands:
				d.handle(p)
			case <-stop:
				return
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
		_ = d.client.Disconnect(&paho.Disconnect{})
	})
	topics, err := contracts.DeviceTopics(id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.client.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: topics.Commands, QoS: 1}}}); err != nil {
		t.Fatalf("device %s: subscribe: %v", id, err)
	}
	return d
}

// handle decodes a command, records it and publishes the answer's replies.
func (d *fakeDevice) handle(p *paho.Publish) {
	m, err := contracts.Decode(p.Payload)
	if err != nil {
		d.t.Errorf("device %s: the command does not decode: %v\n%s", d.id, err, p.Payload)
		return
	}
	cmd, ok := m.(*contracts.DeviceCommandRPC)
	if !ok {
		d.t.Errorf("device %s: got a %T; want *contracts.DeviceCommandRPC", d.id, m)
		return
	}
	d.received <- received{pub: p, cmd: cmd}
	if p.Properties == nil || p.Properties.ResponseTopic == "" {
		d.t.Errorf("device %s: the command has no Response Topic", d.id)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, r := range d.answer(cmd) {
		if r.correlation == nil {
			r.correlation = p.Properties.CorrelationData
		}
		if _, err := d.client.Publish(ctx, &paho.Publish{Topic: p.Properties.ResponseTopic, QoS: 1, Payload: r.body,
			Properties: &paho.PublishProperties{CorrelationData: r.correlation, ContentType: "application/json"}}); err != nil {
			d.t.Errorf("device %s: publish the reply: %v", d.id, err)
		}
	}
}

// command returns the one command the device received.
func (d *fakeDevice) command(t *testing.T) received {
	t.Helper()
	select {
	case r := <-d.received:
		select {
		case again := <-d.received:
			t.Fatalf("device %s received a second command: %s", d.id, again.pub.Payload)
		default:
		}
		return r
	default:
		t.Fatalf("device %s received no command", d.id)
		return received{}
	}
}

// encode encodes m, failing the test if it is invalid.
func encode(t *testing.T, m contracts.Message) []byte {
	t.Helper()
	b, err := contracts.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// succeed answers every command with status success and result.
func succeed(t *testing.T, result string) func(cmd *contracts.DeviceCommandRPC) []reply {
	return func(cmd *contracts.DeviceCommandRPC) []reply {
		p := contracts.DeviceResponseRPCPayload{DeviceID: cmd.Payload.DeviceID, Method: string(cmd.Payload.Method), Result: jsontext.Value(result)}
		return []reply{{body: encode(t, contracts.NewDeviceResponseRPC(contracts.DeviceOrigin(cmd.Payload.DeviceID), &cmd.Envelope, p))}}
	}
}

// decodeResponse decodes what agent call printed.
func decodeResponse(t *testing.T, stdout string) *contracts.DeviceResponseRPC {
	t.Helper()
	if strings.Count(stdout, "\n}\n") != 1 || !strings.HasSuffix(stdout, "}\n") || !strings.Contains(stdout, "\n  \"eventType\"") {
		t.Errorf("stdout is not one indented, newline-terminated object:\n%s", stdout)
	}
	m, err := contracts.Decode([]byte(stdout))
	if err != nil {
		t.Fatalf("stdout does not decode: %v\n%s", err, stdout)
	}
	resp, ok := m.(*contracts.DeviceResponseRPC)
	if !ok {
		t.Fatalf("stdout holds a %T; want *contracts.DeviceResponseRPC", m)
	}
	return resp
}

// compact returns v without whitespace, for comparisons.
func compact(t *testing.T, v jsontext.Value) string {
	t.Helper()
	v = bytes.Clone(v)
	if err := v.Compact(); err != nil {
		t.Fatalf("%s: %v", v, err)
	}
	return string(v)
}

func TestCallSuccess(t *testing.T) {
	t.Setenv("USER", "alice")
	b := mqtttest.Start(t, mqtttest.Options{})
	dev := startDevice(t, b, "gw-1", succeed(t, `{"sensors":[{"name":"bme280","health":"ok"}]}`))

	code, stdout, stderr := runArgs("call", "--broker", b.URL(), "--device", "gw-1", "--timeout", "5s", "getSensors", `{"verbose": true}`)
	if code != callSuccess || stderr != "" {
		t.Fatalf("agent call = %d, stderr %q; want 0 and no stderr", code, stderr)
	}
	got := dev.command(t)
	resp := decodeResponse(t, stdout)
	if resp.CorrelationID != got.cmd.CorrelationID || resp.Status != contracts.StatusSuccess {
		t.Errorf("response correlationId %s, status %s; want %s, success", resp.CorrelationID, resp.Status, got.cmd.CorrelationID)
	}
	if r := compact(t, resp.Payload.Result); r != `{"sensors":[{"name":"bme280","health":"ok"}]}` {
		t.Errorf("result = %s", r)
	}

	// The command, as the device got it.
	cmd, pub := got.cmd, got.pub
	topics, _ := contracts.DeviceTopics("gw-1")
	if pub.Topic != topics.Commands || pub.QoS != 1 {
		t.Errorf("command on %q with QoS %d; want %q, QoS 1", pub.Topic, pub.QoS, topics.Commands)
	}
	props := pub.Properties
	if !strings.HasPrefix(props.ResponseTopic, "iot-hub/call/") || len(props.ResponseTopic) != len("iot-hub/call/")+36 {
		t.Errorf("Response Topic %q; want iot-hub/call/<uuid>", props.ResponseTopic)
	}
	if string(props.CorrelationData) != cmd.CorrelationID {
		t.Errorf("Correlation Data %q; want the correlationId %q", props.CorrelationData, cmd.CorrelationID)
	}
	if props.MessageExpiry == nil || *props.MessageExpiry != 5 {
		t.Errorf("Message Expiry Interval %v; want 5", props.MessageExpiry)
	}
	if props.ContentType != "application/json" {
		t.Errorf("Content Type %q; want application/json", props.ContentType)
	}
	if !cmd.ExpiresAt.Equal(cmd.Timestamp.Add(5 * time.Second)) {
		t.Errorf("expiresAt %v; want timestamp %v + 5s", cmd.ExpiresAt, cmd.Timestamp)
	}
	want := contracts.DeviceCommandRPCPayload{DeviceID: "gw-1", Method: contracts.MethodGetSensors, RequestedBy: "agent-call"}
	if p := cmd.Payload; p.DeviceID != want.DeviceID || p.Method != want.Method || p.RequestedBy != want.RequestedBy || compact(t, p.Params) != `{"verbose":true}` {
		t.Errorf("payload %+v (params %s); want %+v with params {\"verbose\":true}", p, p.Params, want)
	}
	if cmd.Source != (contracts.Source{Type: contracts.SourceUser, ID: "alice"}) {
		t.Errorf("source %+v; want user alice", cmd.Source)
	}
}

func TestCallErrorResponse(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{})
	startDevice(t, b, "gw-2", func(cmd *contracts.DeviceCommandRPC) []reply {
		p := contracts.DeviceResponseRPCPayload{DeviceID: "gw-2", Method: string(cmd.Payload.Method)}
		m := contracts.NewDeviceResponseRPCError(contracts.DeviceOrigin("gw-2"), &cmd.Envelope, p, contracts.CodeMethodNotFound, "no such method here")
		return []reply{{body: encode(t, m)}}
	})

	code, stdout, stderr := runArgs("call", "--broker", b.URL(), "--device", "gw-2", "getDeviceState")
	if code != callError {
		t.Fatalf("agent call = %d, stderr %q; want 1", code, stderr)
	}
	if want := "agent call: METHOD_NOT_FOUND: no such method here\n"; stderr != want {
		t.Errorf("stderr %q; want %q", stderr, want)
	}
	if resp := decodeResponse(t, stdout); resp.Status != contracts.StatusError || resp.Error == nil || resp.Error.Code != contracts.CodeMethodNotFound {
		t.Errorf("printed status %s, error %+v; want error METHOD_NOT_FOUND", resp.Status, resp.Error)
	}
}

func TestCallIgnoresOtherCorrelationData(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{})
	ok := succeed(t, `{"reply":"right"}`)
	dev := startDevice(t, b, "gw-3", func(cmd *contracts.DeviceCommandRPC) []reply {
		p := contracts.DeviceResponseRPCPayload{DeviceID: "gw-3", Method: string(cmd.Payload.Method)}
		wrong := encode(t, contracts.NewDeviceResponseRPCError(contracts.DeviceOrigin("gw-3"), &cmd.Envelope, p, contracts.CodeBusy, "another call's"))
		return append([]reply{
			{correlation: []byte("someone-else"), body: wrong},
			{correlation: []byte{}, body: []byte("not even JSON")},
		}, ok(cmd)...)
	})

	// A response topic of the caller's choosing.
	code, stdout, stderr := runArgs("call", "--broker", b.URL(), "--device", "gw-3", "--response-topic", "test/replies/gw-3", "getSensors")
	if code != callSuccess || stderr != "" {
		t.Fatalf("agent call = %d, stderr %q; want 0: the replies with other correlation data must be ignored", code, stderr)
	}
	if resp := decodeResponse(t, stdout); compact(t, resp.Payload.Result) != `{"reply":"right"}` {
		t.Errorf("printed result %s; want {\"reply\":\"right\"}", resp.Payload.Result)
	}
	if got := dev.command(t).pub.Properties.ResponseTopic; got != "test/replies/gw-3" {
		t.Errorf("Response Topic %q; want test/replies/gw-3", got)
	}
}

func TestCallBadReply(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{})
	tests := []struct {
		name     string
		reply    func(cmd *contracts.DeviceCommandRPC) []byte
		inStderr string
	}{
		{"not JSON", func(*contracts.DeviceCommandRPC) []byte { return []byte("oops") }, "agent call: the reply is not a valid response: contracts: "},
		{"invalid response", func(cmd *contracts.DeviceCommandRPC) []byte {
			return []byte(`{"eventType":"device.response.rpc","correlationId":"` + cmd.CorrelationID + `"}`)
		}, "agent call: the reply is not a valid response: contracts: "},
		{"not a response", func(cmd *contracts.DeviceCommandRPC) []byte {
			return encode(t, contracts.NewDeviceStatusChanged(contracts.DeviceOrigin(cmd.Payload.DeviceID),
				contracts.DeviceStatusChangedPayload{DeviceID: cmd.Payload.DeviceID, Status: contracts.DeviceOnline}))
		}, "agent call: the reply is a device.status.changed, not a device.response.rpc"},
		{"another correlationId", func(cmd *contracts.DeviceCommandRPC) []byte {
			other := *cmd
			other.CorrelationID = contracts.NewCorrelationID()
			p := contracts.DeviceResponseRPCPayload{DeviceID: cmd.Payload.DeviceID, Method: string(cmd.Payload.Method)}
			return encode(t, contracts.NewDeviceResponseRPC(contracts.DeviceOrigin(cmd.Payload.DeviceID), &other.Envelope, p))
		}, "is not the command's, "},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := "gw-bad-" + string(rune('a'+i))
			startDevice(t, b, id, func(cmd *contracts.DeviceCommandRPC) []reply { return []reply{{body: tt.reply(cmd)}} })
			code, stdout, stderr := runArgs("call", "--broker", b.URL(), "--device", id, "getSensors")
			if code != callError || stdout != "" || !strings.Contains(stderr, tt.inStderr) {
				t.Errorf("agent call = %d, stdout %q, stderr %q; want 1, no stdout, stderr with %q", code, stdout, stderr, tt.inStderr)
			}
		})
	}
}

func TestCallTimeout(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{})
	t.Run("no device", func(t *testing.T) {
		start := time.Now()
		code, stdout, stderr := runArgs("call", "--broker", b.URL(), "--device", "gw-none", "--timeout", "300ms", "getSensors")
		if code != callTimeout || stdout != "" || stderr != "agent call: no response from device gw-none within 300ms\n" {
			t.Errorf("agent call = %d, stdout %q, stderr %q; want 2 and the timeout message", code, stdout, stderr)
		}
		if d := time.Since(start); d < 300*time.Millisecond {
			t.Errorf("gave up after %v; want 300ms at least", d)
		}
	})
	t.Run("silent device", func(t *testing.T) {
		dev := startDevice(t, b, "gw-silent", func(*contracts.DeviceCommandRPC) []reply { return nil })
		code, _, stderr := runArgs("call", "--broker", b.URL(), "--device", "gw-silent", "--timeout", "300ms", "getSensors")
		if code != callTimeout || stderr != "agent call: no response from device gw-silent within 300ms\n" {
			t.Errorf("agent call = %d, stderr %q; want 2 and the timeout message", code, stderr)
		}
		got := dev.command(t)
		if e := got.pub.Properties.MessageExpiry; e == nil || *e != 1 {
			t.Errorf("Message Expiry Interval %v; want 1 (300ms rounded up)", e)
		}
		if !got.cmd.ExpiresAt.Equal(got.cmd.Timestamp.Add(300 * time.Millisecond)) {
			t.Errorf("expiresAt %v; want timestamp %v + 300ms", got.cmd.ExpiresAt, got.cmd.Timestamp)
		}
	})
}

func TestCallUsageErrors(t *testing.T) {
	const broker = "mqtt://127.0.0.1:1" // never reached: the command line is refused first
	tests := []struct {
		name     string
		args     []string
		inStderr string
	}{
		{"no flags", []string{"getSensors"}, "--broker and --device are required"},
		{"no device", []string{"--broker", broker, "getSensors"}, "--broker and --device are required"},
		{"no method", []string{"--broker", broker, "--device", "gw"}, "want METHOD and optionally PARAMS-JSON; got 0 arguments"},
		{"too many arguments", []string{"--broker", broker, "--device", "gw", "getSensors", "{}", "x"}, "got 3 arguments"},
		{"unknown flag", []string{"--brokr", broker}, "flag provided but not defined: -brokr"},
		{"unknown method", []string{"--broker", broker, "--device", "gw", "reboot"}, `agent call: unknown method "reboot"; the methods are getDeviceState, getSensors`},
		{"params not JSON", []string{"--broker", broker, "--device", "gw", "getSensors", "{verbose}"}, "PARAMS-JSON must be a JSON object"},
		{"params not an object", []string{"--broker", broker, "--device", "gw", "getSensors", "[1]"}, "PARAMS-JSON must be a JSON object"},
		{"zero timeout", []string{"--broker", broker, "--device", "gw", "--timeout", "0s", "getSensors"}, "--timeout 0s is not positive"},
		{"bad scheme", []string{"--broker", "http://b:1883", "--device", "gw", "getSensors"}, "the scheme must be mqtt, tcp, mqtts, tls or ssl"},
		{"no host", []string{"--broker", "mqtt://", "--device", "gw", "getSensors"}, "has no host"},
		{"bad device", []string{"--broker", broker, "--device", "a/b", "getSensors"}, "--device: contracts: deviceId: "},
		{"wildcard response topic", []string{"--broker", broker, "--device", "gw", "--response-topic", "r/#", "getSensors"}, "must not hold +, # or NUL"},
		{"cert without key", []string{"--broker", "mqtts://b", "--device", "gw", "--cert", "c.pem", "getSensors"}, "--cert and --key go together"},
		{"TLS files without TLS", []string{"--broker", broker, "--device", "gw", "--ca", "ca.pem", "getSensors"}, "need a TLS broker"},
		{"missing CA file", []string{"--broker", "mqtts://b", "--device", "gw", "--ca", "/nonexistent/ca.pem", "getSensors"}, "--ca: open /nonexistent/ca.pem"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runArgs(append([]string{"call"}, tt.args...)...)
			if code != callNotAsked || stdout != "" || !strings.HasPrefix(stderr, "agent call: ") ||
				!strings.Contains(stderr, tt.inStderr) || !strings.Contains(stderr, "agent call -h") {
				t.Errorf("agent call %q = %d, stdout %q, stderr %q; want 3 and stderr with %q and a pointer to -h",
					tt.args, code, stdout, stderr, tt.inStderr)
			}
		})
	}

	code, stdout, stderr := runArgs("call", "-h")
	if code != callSuccess || stderr != "" || !strings.HasPrefix(stdout, "Usage: agent call") ||
		!strings.Contains(stdout, "Exit status: 0 success, 1 error response") || !strings.Contains(stdout, "Methods: getDeviceState, getSensors, getLogs, getConfig, restartAgent, setConfig, updateAgent\n") {
		t.Errorf("agent call -h = %d, stdout %q, stderr %q; want 0 and the usage with exit codes and methods", code, stdout, stderr)
	}
	if code, stdout, _ := runArgs("help"); code != exitOK || !strings.Contains(stdout, "agent call --broker URL --device ID") {
		t.Errorf("agent help = %d, %q; want call listed", code, stdout)
	}
}

func TestCallCannotConnect(t *testing.T) {
	t.Run("refused", func(t *testing.T) {
		addr := freeAddr(t) // nothing listens there
		code, _, stderr := runArgs("call", "--broker", "tcp://"+addr, "--device", "gw", "getSensors")
		if code != callNotAsked || !strings.HasPrefix(stderr, "agent call: connect to tcp://"+addr+": ") {
			t.Errorf("agent call = %d, stderr %q; want 3, connect error", code, stderr)
		}
	})
	t.Run("no CONNACK", func(t *testing.T) {
		// A server that accepts connections and never answers: connecting
		// must give up at the timeout, not retry or wait for paho's own.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		accepted := make(chan net.Conn, 1)
		go func() {
			if c, err := l.Accept(); err == nil {
				accepted <- c
			}
			close(accepted)
		}()
		t.Cleanup(func() {
			l.Close()
			if c := <-accepted; c != nil {
				c.Close()
			}
		})
		start := time.Now()
		code, _, stderr := runArgs("call", "--broker", "mqtt://"+l.Addr().String(), "--device", "gw", "--timeout", "300ms", "getSensors")
		if code != callNotAsked || !strings.Contains(stderr, "connect to mqtt://"+l.Addr().String()+": not done within 300ms") {
			t.Errorf("agent call = %d, stderr %q; want 3, connect not done within 300ms", code, stderr)
		}
		// Loose: paho's own packet timeout is 10s.
		if d := time.Since(start); d > 8*time.Second {
			t.Errorf("gave up after %v; want about 300ms", d)
		}
	})
}

func TestCallTLS(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{RequireClientCert: true})
	startDevice(t, b, "gw-tls", succeed(t, `{"ok":true}`))

	code, stdout, stderr := runArgs("call", "--broker", b.URL(), "--device", "gw-tls",
		"--ca", b.CAFile, "--cert", b.ClientCertFile, "--key", b.ClientKeyFile, "getDeviceState")
	if code != callSuccess || stderr != "" {
		t.Fatalf("agent call over TLS = %d, stderr %q; want 0", code, stderr)
	}
	if resp := decodeResponse(t, stdout); compact(t, resp.Payload.Result) != `{"ok":true}` {
		t.Errorf("result %s; want {\"ok\":true}", resp.Payload.Result)
	}

	// Without a client certificate the broker refuses the connection.
	ssl := strings.Replace(b.URL(), "mqtts://", "ssl://", 1)
	code, stdout, stderr = runArgs("call", "--broker", ssl, "--device", "gw-tls", "--ca", b.CAFile, "getDeviceState")
	if code != callNotAsked || stdout != "" || !strings.HasPrefix(stderr, "agent call: connect to "+ssl+": ") {
		t.Errorf("agent call without a client certificate = %d, stdout %q, stderr %q; want 3, connect error", code, stdout, stderr)
	}
}
