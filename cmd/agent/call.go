package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/google/uuid"

	"github.com/iot-hub/agent/agent/config"
	"github.com/iot-hub/agent/agent/uplink/mqtt"
	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/internal/tlsfiles"
)

// Exit codes of agent call, which differ from the other subcommands': a
// script must tell the device's answer from its silence and from a call
// that was never made.
const (
	callSuccess  = 0 // the device answered with status success
	callError    = 1 // it answered with status error, or with a reply that is not a valid response
	callTimeout  = 2 // no answer within the timeout
	callNotAsked = 3 // bad usage, or the broker could not be reached, or the connection was lost
)

// callUsage is the help of agent call; the methods are appended.
const callUsage = `Usage: agent call --broker URL --device ID [flags] METHOD [PARAMS-JSON]

Sends the device.command.rpc METHOD, with the JSON object PARAMS-JSON as its
params, to device ID over MQTT v5 (request/response) and prints the
device's device.response.rpc.

  --broker URL            mqtt:// or tcp:// (plain), mqtts://, tls:// or ssl:// (TLS)
  --device ID             the device to call
  --timeout DURATION      for connecting and the answer; also the command's
                          expiry (default 5s)
  --response-topic TOPIC  where the device answers (default iot-hub/call/<uuid>)
  --ca FILE               CA bundle (PEM) for the broker (default: the system's)
  --cert FILE, --key FILE client certificate and key (PEM)

IOT_HUB_MQTT_USERNAME and IOT_HUB_MQTT_PASSWORD, when set, are the MQTT
username and password.

Exit status: 0 success, 1 error response (or a reply that is not a valid
response), 2 timeout (no response), 3 could not ask (bad usage, broker
unreachable or connection lost).
`

// errNoResponse is a call that got no answer in time.
var errNoResponse = errors.New("no response")

// call is one RPC: the command and where and how to send it.
type call struct {
	broker        string      // the URL, password masked, for messages
	addr          string      // host:port
	tls           *tls.Config // nil for a plain connection
	username      string      // from IOT_HUB_MQTT_USERNAME; "" for none
	password      string      // from IOT_HUB_MQTT_PASSWORD; "" for none
	deviceID      string
	topic         string        // the device's commands topic
	responseTopic string        // where the device answers; this call's alone
	timeout       time.Duration // bounds the whole call; the command's TTL
	cmd           *contracts.DeviceCommandRPC
	body          []byte // cmd, encoded
}

// callCmd is "agent call": it sends one RPC command to a device and
// prints the response.
func callCmd(args []string, stdout, stderr io.Writer) int {
	c, err := parseCall(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, callUsage, methodsLine())
		return callSuccess
	case err != nil:
		fmt.Fprintf(stderr, "agent call: %v\nUsage: agent call --broker URL --device ID [flags] METHOD [PARAMS-JSON]; agent call -h for help\n", err)
		return callNotAsked
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	reply, err := c.ask(ctx)
	switch {
	case errors.Is(err, errNoResponse):
		fmt.Fprintf(stderr, "agent call: no response from device %s within %v\n", c.deviceID, c.timeout)
		return callTimeout
	case err != nil:
		fmt.Fprintln(stderr, "agent call:", err)
		return callNotAsked
	}
	return c.report(reply, stdout, stderr)
}

// methodsLine lists the methods a command may name.
func methodsLine() string {
	return "\nMethods: " + strings.Join(contracts.Method("").Values(), ", ") + "\n"
}

// parseCall reads the command line of agent call, checks it and builds
// the command. It returns flag.ErrHelp for -h.
func parseCall(args []string) (*call, error) {
	fs := flag.NewFlagSet("agent call", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // the error is returned, the usage printed by callCmd
	broker := fs.String("broker", "", "")
	device := fs.String("device", "", "")
	timeout := fs.Duration("timeout", 5*time.Second, "")
	responseTopic := fs.String("response-topic", "", "")
	caFile := fs.String("ca", "", "")
	certFile := fs.String("cert", "", "")
	keyFile := fs.String("key", "", "")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch {
	case *broker == "" || *device == "":
		return nil, errors.New("--broker and --device are required")
	case fs.NArg() < 1 || fs.NArg() > 2:
		return nil, fmt.Errorf("want METHOD and optionally PARAMS-JSON; got %d arguments", fs.NArg())
	case *timeout <= 0:
		return nil, fmt.Errorf("--timeout %v is not positive", *timeout)
	case (*certFile == "") != (*keyFile == ""):
		return nil, errors.New("--cert and --key go together")
	}
	c := &call{deviceID: *device, responseTopic: *responseTopic, timeout: *timeout,
		username: os.Getenv(config.EnvMQTTUsername), password: os.Getenv(config.EnvMQTTPassword)}
	addr, useTLS, err := brokerAddr(*broker)
	if err != nil {
		return nil, err
	}
	c.broker, c.addr = redactURL(*broker), addr
	if useTLS {
		if c.tls, err = callTLS(*caFile, *certFile, *keyFile); err != nil {
			return nil, err
		}
	} else if *caFile != "" || *certFile != "" {
		return nil, fmt.Errorf("--ca, --cert and --key need a TLS broker (mqtts://), not %s", c.broker)
	}
	topics, err := contracts.DeviceTopics(c.deviceID)
	if err != nil {
		return nil, fmt.Errorf("--device: %w", err)
	}
	c.topic = topics.Commands
	if c.responseTopic == "" {
		c.responseTopic = "iot-hub/call/" + uuid.NewString()
	} else if strings.ContainsAny(c.responseTopic, "+#\x00") {
		return nil, fmt.Errorf("--response-topic %q: a topic name must not hold +, # or NUL", c.responseTopic)
	}
	p := contracts.DeviceCommandRPCPayload{DeviceID: c.deviceID, Method: contracts.Method(fs.Arg(0)), RequestedBy: "agent-call"}
	if fs.NArg() == 2 {
		if v := jsontext.Value(fs.Arg(1)); !v.IsValid() || v.Kind() != '{' {
			return nil, fmt.Errorf(`PARAMS-JSON must be a JSON object, such as '{"verbose":true}'; got %q`, fs.Arg(1))
		}
		p.Params = jsontext.Value(fs.Arg(1))
	}
	return c, c.build(p)
}

// build makes and encodes the command, expiring after the timeout.
func (c *call) build(p contracts.DeviceCommandRPCPayload) error {
	user := os.Getenv("USER")
	if user == "" {
		user = "agent-call"
	}
	c.cmd = contracts.NewDeviceCommandRPC(contracts.Origin{Source: contracts.Source{Type: contracts.SourceUser, ID: user}}, p, c.timeout)
	var err error
	if c.body, err = contracts.Encode(c.cmd); err != nil {
		if e, ok := errors.AsType[*contracts.Error](err); ok && e.Path == "payload.method" {
			return fmt.Errorf("unknown method %q; the methods are %s", c.cmd.Payload.Method, strings.Join(contracts.Method("").Values(), ", "))
		}
		return err
	}
	return nil
}

// brokerAddr returns the host:port of the broker's URL, with the default
// port (1883, or 8883 for TLS) when it has none, and whether its scheme
// asks for TLS.
func brokerAddr(broker string) (addr string, useTLS bool, err error) {
	u, err := url.Parse(broker)
	if err != nil {
		return "", false, errors.New("--broker: not a URL")
	}
	useTLS, known := mqtt.SchemeTLS(u.Scheme)
	if !known {
		return "", false, fmt.Errorf("--broker %q: the scheme must be %s", u.Redacted(), mqtt.Schemes)
	}
	port := "1883"
	if useTLS {
		port = "8883"
	}
	if u.Hostname() == "" {
		return "", false, fmt.Errorf("--broker %q has no host", u.Redacted())
	}
	if u.Port() != "" {
		port = u.Port()
	}
	return net.JoinHostPort(u.Hostname(), port), useTLS, nil
}

// callTLS builds the TLS configuration (1.2 at least) from the files
// given; an empty caFile means the system's CAs.
func callTLS(caFile, certFile, keyFile string) (*tls.Config, error) {
	c, err := tlsfiles.Config(caFile, certFile, keyFile)
	if e, ok := errors.AsType[*tlsfiles.Error](err); ok {
		return nil, e.Name("--ca", "--cert and --key")
	}
	return c, err
}

// ask connects with a fresh client id and a clean session, subscribes to
// the response topic, publishes the command and returns the payload of the
// first message on the response topic that carries the command's
// correlation data. It returns errNoResponse when ctx ends first; every
// step is bounded by ctx.
func (c *call) ask(ctx context.Context) ([]byte, error) {
	conn, err := c.dial(ctx)
	if err != nil {
		return nil, c.failed(ctx, "connect to", err)
	}
	correlation := []byte(c.cmd.CorrelationID)
	replies := make(chan []byte, 1)
	client := paho.NewClient(paho.ClientConfig{
		Conn: packets.NewThreadSafeConn(conn),
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			if p := pr.Packet; p.Topic == c.responseTopic && p.Properties != nil && bytes.Equal(p.Properties.CorrelationData, correlation) {
				select {
				case replies <- p.Payload:
				default: // the first one is the answer
				}
			}
			return true, nil
		}},
	})
	connect := &paho.Connect{ClientID: "agent-call-" + uuid.NewString(), CleanStart: true, KeepAlive: 30,
		Username: c.username, UsernameFlag: c.username != "", Password: []byte(c.password), PasswordFlag: c.password != ""}
	if ack, err := client.Connect(ctx, connect); err != nil {
		if ack != nil {
			err = fmt.Errorf("refused with reason code 0x%02x: %w", ack.ReasonCode, err)
		}
		return nil, c.failed(ctx, "connect to", err)
	}
	defer func() { _ = client.Disconnect(&paho.Disconnect{}) }()
	if _, err := client.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: c.responseTopic, QoS: 1}}}); err != nil {
		return nil, c.failed(ctx, "subscribe to "+c.responseTopic+" on", err)
	}
	expiry := uint32(min((c.timeout+time.Second-1)/time.Second, math.MaxUint32))
	if _, err := client.Publish(ctx, &paho.Publish{Topic: c.topic, QoS: 1, Payload: c.body, Properties: &paho.PublishProperties{
		ResponseTopic: c.responseTopic, CorrelationData: correlation, MessageExpiry: &expiry, ContentType: "application/json",
	}}); err != nil {
		return nil, c.failed(ctx, "publish to "+c.topic+" on", err)
	}
	select {
	case reply := <-replies:
		return reply, nil
	case <-client.Done():
		return nil, fmt.Errorf("lost the connection to %s while waiting for the response", c.broker)
	case <-ctx.Done():
		return nil, errNoResponse
	}
}

// failed describes a step of ask that failed, saying so when it ran out of
// time.
func (c *call) failed(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s %s: not done within %v", what, c.broker, c.timeout)
	}
	return fmt.Errorf("%s %s: %w", what, c.broker, err)
}

// dial opens the network connection, with TLS when the broker's scheme
// asks for it.
func (c *call) dial(ctx context.Context) (net.Conn, error) {
	if c.tls != nil {
		d := tls.Dialer{Config: c.tls}
		return d.DialContext(ctx, "tcp", c.addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", c.addr)
}

// report checks the reply, prints it indented to stdout and returns the
// exit code its status gives.
func (c *call) report(reply []byte, stdout, stderr io.Writer) int {
	m, err := contracts.Decode(reply)
	if err != nil {
		fmt.Fprintln(stderr, "agent call: the reply is not a valid response:", err)
		return callError
	}
	resp, ok := m.(*contracts.DeviceResponseRPC)
	switch {
	case !ok:
		fmt.Fprintf(stderr, "agent call: the reply is a %s, not a %s\n", m.Header().EventType, contracts.TypeDeviceResponseRPC)
		return callError
	case resp.CorrelationID != c.cmd.CorrelationID:
		fmt.Fprintf(stderr, "agent call: the reply's correlationId %s is not the command's, %s\n", resp.CorrelationID, c.cmd.CorrelationID)
		return callError
	}
	out := jsontext.Value(reply)
	_ = out.Indent(jsontext.WithIndent("  ")) // cannot fail: Decode accepted it
	fmt.Fprintf(stdout, "%s\n", out)
	if resp.Status == contracts.StatusError {
		fmt.Fprintf(stderr, "agent call: %s: %s\n", resp.Error.Code, resp.Error.Message)
		return callError
	}
	return callSuccess
}

// redactURL is the URL s with its password masked, for messages.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(not a URL)"
	}
	return u.Redacted()
}
