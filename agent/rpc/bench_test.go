package rpc_test

import (
	"bytes"
	"cmp"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/agent/outbox/outboxtest"
	"github.com/iot-hub/agent/agent/rpc"
	"github.com/iot-hub/agent/agent/sensors"
	"github.com/iot-hub/agent/agent/sensors/sensorstest"
	"github.com/iot-hub/agent/agent/uplink"
	"github.com/iot-hub/agent/agent/uplink/mqtt"
	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/internal/mqtttest"
)

// The RPC benchmarks: a backend-like MQTT v5 client calls getDeviceState
// through mosquitto on loopback, with a Response Topic and Correlation
// Data, and waits for the answer. The "agent" variants answer with the
// agent wired as cmd/agent wires it: an outbox file, the uplink, the
// dispatcher with its Deps and a sampler. The "baseline-echo" variants
// answer with a bare paho client that sends each command back as it came,
// to its Response Topic with its Correlation Data: the broker and the
// client's share of a round trip, measured in the same run.

const (
	benchDevice = "gw-bench"
	// benchReplies is the caller's Response Topic.
	benchReplies = "bench/replies"
	// latencyCalls is how many sequential calls BenchmarkRoundTrip times
	// per iteration.
	latencyCalls = 2000
	// warmUpCalls are made, untimed, before measuring.
	warmUpCalls = 100
	// throughputCallers call at once, each making throughputCalls one
	// after another per iteration of BenchmarkThroughput.
	throughputCallers = 16
	throughputCalls   = 400
	// callTimeout bounds one call; a call that takes longer fails the
	// benchmark.
	callTimeout = 10 * time.Second
)

var benchTopics, _ = contracts.DeviceTopics(benchDevice)

// successMark is in every successful answer, and not in error answers
// (BUSY and the like): contracts.Encode writes no spaces.
var successMark = []byte(`"status":"success"`)

// BenchmarkRoundTrip measures the round trip of getDeviceState, from the
// caller's PUBLISH (QoS 1) to the answer's arrival, one call at a time,
// 2,000 calls per iteration, through the agent and through the bare echo;
// it reports p50 and p99 in microseconds.
func BenchmarkRoundTrip(b *testing.B) {
	for _, v := range benchVariants {
		b.Run("getDeviceState/"+v.name, func(b *testing.B) {
			broker := mqtttest.Start(b, mqtttest.Options{})
			v.start(b, broker)
			c := newCaller(b, broker, v.checkSuccess)
			c.warmUp(b)
			var lat []time.Duration
			for b.Loop() {
				for range latencyCalls {
					d, ok, err := c.call(context.Background())
					if err != nil {
						b.Fatal(err)
					}
					if !ok {
						b.Fatal("an error answer to a lone call")
					}
					lat = append(lat, d)
				}
			}
			reportPercentiles(b, lat)
		})
	}
}

// BenchmarkThroughput measures the calls of getDeviceState answered per
// second by 16 callers sharing one client, each making 400 calls one
// after another (6,400 calls per iteration, a few seconds through the
// agent), through the agent and through the bare echo. It reports rpc/s
// (successful answers only), the p50 and p99 of the round trips under
// that load, and error-answers: the calls answered with an error (BUSY
// beyond the dispatcher's Concurrency), not counted in rpc/s. As every
// iteration makes the same calls, ns/op, B/op and allocs/op compare with
// the echo's too.
func BenchmarkThroughput(b *testing.B) {
	for _, v := range benchVariants {
		b.Run(fmt.Sprintf("getDeviceState-%d-callers/%s", throughputCallers, v.name), func(b *testing.B) {
			broker := mqtttest.Start(b, mqtttest.Options{})
			v.start(b, broker)
			c := newCaller(b, broker, v.checkSuccess)
			c.warmUp(b)
			var (
				mu                sync.Mutex
				lat               []time.Duration
				answered, refused int
				callErr           error
				failed            atomic.Bool
				elapsed           time.Duration
			)
			for b.Loop() {
				start := time.Now()
				var wg sync.WaitGroup
				for range throughputCallers {
					wg.Go(func() {
						var mine []time.Duration
						errorAnswers := 0
						for range throughputCalls {
							if failed.Load() {
								break
							}
							d, success, err := c.call(context.Background())
							if err != nil {
								mu.Lock()
								callErr = cmp.Or(callErr, err)
								mu.Unlock()
								failed.Store(true)
								break
							}
							if !success {
								errorAnswers++
								continue
							}
							mine = append(mine, d)
						}
						mu.Lock()
						lat = append(lat, mine...)
						answered += len(mine)
						refused += errorAnswers
						mu.Unlock()
					})
				}
				wg.Wait()
				elapsed += time.Since(start)
				if callErr != nil {
					b.Fatal(callErr)
				}
			}
			b.ReportMetric(float64(answered)/elapsed.Seconds(), "rpc/s")
			b.ReportMetric(float64(refused)/float64(b.N), "error-answers")
			reportPercentiles(b, lat)
		})
	}
}

// benchVariant is what answers the caller.
type benchVariant struct {
	name  string
	start func(b *testing.B, broker *mqtttest.Broker)
	// checkSuccess makes the caller tell success answers from error
	// answers; the echo's answers are the commands themselves.
	checkSuccess bool
}

var benchVariants = []benchVariant{
	{name: "agent", start: startAgent, checkSuccess: true},
	{name: "baseline-echo", start: startEcho},
}

// startAgent runs the agent as cmd/agent's runAgent wires it, against
// broker, and returns once the uplink is connected and has subscribed to
// the commands topic (its online status has come). It is stopped, in the
// daemon's order (sensors, dispatcher, uplink, outbox), when b ends.
func startAgent(b *testing.B, broker *mqtttest.Broker) {
	box, _ := outboxtest.Open(b, outbox.Config{})
	sampler, err := sensors.NewSampler(sensors.SamplerConfig{DeviceID: benchDevice}, box,
		sensors.Schedule{Sensor: sensorstest.New("t1"), Interval: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	var up *mqtt.Uplink // the dispatcher reads its state once it runs
	d, err := rpc.New(rpc.Config{DeviceID: benchDevice}, box, rpc.Deps{
		Version: "bench", StateDir: b.TempDir(), Started: time.Now(),
		Uplink: func() uplink.State {
			return up.State()
		},
		Outbox:      box.Stats,
		Sensors:     sampler,
		Certificate: func() *x509.Certificate { return up.Certificate() },
	})
	if err != nil {
		b.Fatal(err)
	}
	up, err = mqtt.New(mqtt.Config{Settings: mqtt.Settings{Broker: broker.URL()}, DeviceID: benchDevice}, box, dispatch(d))
	if err != nil {
		b.Fatal(err)
	}
	status := broker.Subscribe(b, benchTopics.Status, 1)

	sensorsCtx, stopSensors := context.WithCancel(context.Background())
	samplerDone := make(chan error, 1)
	go func() { samplerDone <- sampler.Run(sensorsCtx) }()
	uplinkCtx, stopUplink := context.WithCancel(context.Background())
	uplinkDone := make(chan error, 1)
	go func() { uplinkDone <- up.Run(uplinkCtx) }()
	b.Cleanup(func() {
		stopSensors()
		if err := <-samplerDone; err != nil {
			b.Error(err)
		}
		d.Close() // the commands being run are answered while the uplink runs
		stopUplink()
		if err := <-uplinkDone; err != nil {
			b.Error(err)
		}
		if err := box.Close(); err != nil {
			b.Error(err)
		}
	})
	status.WaitFor(b, 1, 10*time.Second) // online: the subscription follows
}

// dispatch is cmd/agent's dispatchMQTT, the uplink's command handler: it
// hands each command to the dispatcher as the uplink filled it in.
func dispatch(d *rpc.Dispatcher) mqtt.Handler {
	return func(_ context.Context, c mqtt.Command) { d.Handle(c.Command) }
}

// startEcho connects a bare paho client that subscribes to the commands
// topic (QoS 1) and answers each command with a copy of its payload, QoS
// 1, to its Response Topic with its Correlation Data. Like the agent's
// handler, the receive path hands the answer to a goroutine.
func startEcho(b *testing.B, broker *mqtttest.Broker) {
	echo := func(pr paho.PublishReceived) (bool, error) {
		p := pr.Packet
		if p.Properties == nil || p.Properties.ResponseTopic == "" {
			return true, nil
		}
		answer := &paho.Publish{QoS: 1, Topic: p.Properties.ResponseTopic, Payload: bytes.Clone(p.Payload),
			Properties: &paho.PublishProperties{CorrelationData: bytes.Clone(p.Properties.CorrelationData), ContentType: "application/json"}}
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
			defer cancel()
			_, _ = pr.Client.Publish(ctx, answer) // a lost answer fails the call
		}()
		return true, nil
	}
	connect(b, broker, "bench-echo", benchTopics.Commands, echo)
}

// caller is the backend's side: one client that publishes commands and
// matches the answers to them by Correlation Data. Its call is safe for
// concurrent use.
type caller struct {
	cm           *autopaho.ConnectionManager
	origin       contracts.Origin
	checkSuccess bool

	mu      sync.Mutex
	waiting map[string]chan []byte // by correlation data
}

func newCaller(b *testing.B, broker *mqtttest.Broker, checkSuccess bool) *caller {
	c := &caller{
		origin:       contracts.Origin{Source: contracts.Source{Type: contracts.SourceBackend, ID: "bench"}},
		checkSuccess: checkSuccess,
		waiting:      map[string]chan []byte{},
	}
	c.cm = connect(b, broker, "bench-caller", benchReplies, c.onAnswer)
	return c
}

// onAnswer hands an answer to the call waiting for it.
func (c *caller) onAnswer(pr paho.PublishReceived) (bool, error) {
	p := pr.Packet
	if p.Properties == nil {
		return true, nil
	}
	key := string(p.Properties.CorrelationData)
	c.mu.Lock()
	ch, ok := c.waiting[key]
	delete(c.waiting, key)
	c.mu.Unlock()
	if ok {
		ch <- p.Payload
	}
	return true, nil
}

// call makes one getDeviceState call, a new command with a correlationId
// of its own, and returns the time from its PUBLISH to its answer, and
// whether the answer is a success (always true for the echo).
func (c *caller) call(ctx context.Context) (time.Duration, bool, error) {
	d, answer, err := c.roundTrip(ctx)
	if err != nil {
		return 0, false, err
	}
	return d, !c.checkSuccess || bytes.Contains(answer, successMark), nil
}

// roundTrip publishes a new getDeviceState command and waits for its
// answer, up to callTimeout.
func (c *caller) roundTrip(ctx context.Context) (time.Duration, []byte, error) {
	m := contracts.NewDeviceCommandRPC(c.origin, contracts.DeviceCommandRPCPayload{
		DeviceID: benchDevice, Method: contracts.MethodGetDeviceState, RequestedBy: "bench"}, time.Minute)
	payload, err := contracts.Encode(m)
	if err != nil {
		return 0, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	key := m.CorrelationID
	ch := make(chan []byte, 1)
	c.mu.Lock()
	c.waiting[key] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.waiting, key)
		c.mu.Unlock()
	}()
	start := time.Now()
	if _, err := c.cm.Publish(ctx, &paho.Publish{QoS: 1, Topic: benchTopics.Commands, Payload: payload,
		Properties: &paho.PublishProperties{ResponseTopic: benchReplies, CorrelationData: []byte(key), ContentType: "application/json"}}); err != nil {
		return 0, nil, fmt.Errorf("publish the command: %w", err)
	}
	select {
	case answer := <-ch:
		return time.Since(start), answer, nil
	case <-ctx.Done():
		return 0, nil, fmt.Errorf("no answer to %s within %v: %w", key, callTimeout, ctx.Err())
	}
}

// warmUp makes calls until one is answered (the responder's subscription
// may come a moment after the online status), checks that answer, then
// makes warmUpCalls more, untimed.
func (c *caller) warmUp(b *testing.B) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, answer, err := c.roundTrip(ctx)
		cancel()
		if err == nil {
			if c.checkSuccess {
				checkAnswer(b, answer)
			}
			break
		}
		if !errors.Is(err, context.DeadlineExceeded) || time.Now().After(deadline) {
			b.Fatalf("warming up: %v", err)
		}
	}
	for range warmUpCalls {
		if _, _, err := c.call(context.Background()); err != nil {
			b.Fatalf("warming up: %v", err)
		}
	}
}

// checkAnswer fails b unless answer is a successful getDeviceState
// answer of the bench device.
func checkAnswer(b *testing.B, answer []byte) {
	m, err := contracts.Decode(answer)
	if err != nil {
		b.Fatalf("the answer does not decode: %v\n%s", err, answer)
	}
	r, ok := m.(*contracts.DeviceResponseRPC)
	if !ok || r.Status != contracts.StatusSuccess || r.Payload.DeviceID != benchDevice || r.Payload.Method != string(contracts.MethodGetDeviceState) {
		b.Fatalf("the answer is not a successful getDeviceState of %s:\n%s", benchDevice, answer)
	}
}

// connect connects a bare autopaho client to broker, subscribed to topic
// (QoS 1) with onPublish as its handler, and disconnects it when b ends.
func connect(b *testing.B, broker *mqtttest.Broker, id, topic string, onPublish func(paho.PublishReceived) (bool, error)) *autopaho.ConnectionManager {
	u, err := url.Parse(broker.URL())
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cm, err := autopaho.NewConnection(ctx, autopaho.ClientConfig{
		ServerUrls: []*url.URL{u}, KeepAlive: 30, CleanStartOnInitialConnection: true,
		ClientConfig: paho.ClientConfig{ClientID: id, OnPublishReceived: []func(paho.PublishReceived) (bool, error){onPublish}},
	})
	if err != nil {
		cancel()
		b.Fatal(err)
	}
	b.Cleanup(func() {
		dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer dcancel()
		_ = cm.Disconnect(dctx)
		cancel()
		<-cm.Done()
	})
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := cm.AwaitConnection(wctx); err != nil {
		b.Fatalf("%s: connect: %v", id, err)
	}
	suback, err := cm.Subscribe(wctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: topic, QoS: 1}}})
	if err == nil && len(suback.Reasons) > 0 && suback.Reasons[0] >= 0x80 {
		err = fmt.Errorf("SUBACK reason code 0x%02x", suback.Reasons[0])
	}
	if err != nil {
		b.Fatalf("%s: subscribe to %s: %v", id, topic, err)
	}
	return cm
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		b.Fatal("no call was answered")
	}
	slices.Sort(lat)
	p := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) }
	b.ReportMetric(p(0.50), "p50-us")
	b.ReportMetric(p(0.99), "p99-us")
}
