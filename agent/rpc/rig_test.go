package rpc

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/agent/outbox/outboxtest"
	"github.com/iot-hub/agent/agent/sensors"
	"github.com/iot-hub/agent/agent/sensors/sensorstest"
	"github.com/iot-hub/agent/agent/uplink"
	"github.com/iot-hub/agent/contracts"
	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any leaves a goroutine behind:
// a command's, or its timer's.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const device = "gw-test"

var topics, _ = contracts.DeviceTopics(device)

// rig is a dispatcher answering into a real outbox file.
type rig struct {
	t    *testing.T
	path string
	box  *outbox.Store
	d    *Dispatcher
	// edits change the dispatcher's Deps as the rig opens it.
	edits []func(*Deps)
}

func newRig(t *testing.T, cfg Config, edits ...func(*Deps)) *rig {
	t.Helper()
	r := &rig{t: t, path: filepath.Join(t.TempDir(), "outbox.db"), edits: edits}
	r.open(cfg)
	t.Cleanup(r.close)
	return r
}

// open opens the outbox at r.path and a dispatcher on it, with one fake
// sensor "t1" behind a real sampler.
func (r *rig) open(cfg Config) {
	r.t.Helper()
	box := outboxtest.OpenAt(r.t, r.path, outbox.Config{Settings: outbox.Settings{LiveShare: -1}})
	sampler, err := sensors.NewSampler(sensors.SamplerConfig{DeviceID: device}, box,
		sensors.Schedule{Sensor: sensorstest.New("t1"), Interval: time.Hour})
	if err != nil {
		r.t.Fatal(err)
	}
	cfg.DeviceID = device
	deps := Deps{Version: "test", StateDir: r.t.TempDir(), Started: time.Now(), Outbox: box.Stats, Sensors: sampler}
	for _, edit := range r.edits {
		edit(&deps)
	}
	d, err := New(cfg, box, deps)
	if err != nil {
		r.t.Fatal(err)
	}
	r.box, r.d = box, d
}

func (r *rig) close() {
	if r.box == nil {
		return
	}
	r.d.Close()
	r.box.Close()
	r.box = nil
}

// outcome is what one request led to: the answer and dead letter
// records put in the outbox, decoded.
type outcome struct {
	answer     *contracts.DeviceResponseRPC
	answerRec  outbox.Entry
	deadLetter *contracts.SystemDLQ
	audits     []*contracts.DeviceManagementAudit
}

// request makes a request of payload with a reply topic of its own.
func request(payload []byte) uplink.Command {
	return uplink.Command{Topic: topics.Commands, Payload: payload, Reply: "backend/replies",
		ReplyHeaders: []outbox.Header{{Key: "mqtt.correlation-data", Value: []byte("cd")}}, DeadLetters: topics.DLQ}
}

// send hands req to the dispatcher and waits until it is acknowledged.
func (r *rig) send(req uplink.Command) {
	r.t.Helper()
	acked := make(chan struct{})
	var once sync.Once
	req.Ack = func() { once.Do(func() { close(acked) }) }
	r.d.Handle(req)
	select {
	case <-acked:
	case <-time.After(20 * time.Second):
		r.t.Fatalf("request %.60q was not acknowledged", req.Payload)
	}
}

// drain takes what the outbox holds now, acks it, and decodes it.
func (r *rig) drain() []outbox.Entry {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	var out []outbox.Entry
	for {
		es, err := r.box.Next(ctx, 100)
		if err != nil {
			return out
		}
		for _, e := range es {
			if e.Lane == outbox.LaneControl {
				out = append(out, e)
			}
			r.box.Ack(e.ID)
		}
	}
}

// call sends payload and returns what it led to.
func (r *rig) call(payload []byte) outcome {
	r.t.Helper()
	r.send(request(payload))
	return r.decode(r.drain())
}

func (r *rig) decode(es []outbox.Entry) outcome {
	r.t.Helper()
	var o outcome
	for _, e := range es {
		m, err := contracts.Decode(e.Payload)
		if err != nil {
			r.t.Fatalf("the dispatcher put an invalid message in the outbox: %v\n%s", err, e.Payload)
		}
		switch m := m.(type) {
		case *contracts.DeviceResponseRPC:
			if o.answer != nil {
				r.t.Fatalf("two answers: %s", e.Payload)
			}
			o.answer, o.answerRec = m, e
		case *contracts.SystemDLQ:
			if o.deadLetter != nil {
				r.t.Fatalf("two dead letters: %s", e.Payload)
			}
			o.deadLetter = m
			if e.Topic != topics.DLQ {
				r.t.Errorf("dead letter on %q; want %q", e.Topic, topics.DLQ)
			}
		case *contracts.DeviceManagementAudit:
			o.audits = append(o.audits, m)
			if e.Topic != topics.Events {
				r.t.Errorf("audit event on %q; want %q", e.Topic, topics.Events)
			}
		default:
			r.t.Fatalf("unexpected %T in the outbox", m)
		}
	}
	return o
}

// command encodes a getDeviceState command to this device, with edits
// applied to its JSON text.
func command(t *testing.T, method contracts.Method, params string, edit func(string) string) ([]byte, string) {
	t.Helper()
	m := contracts.NewDeviceCommandRPC(contracts.Origin{Source: contracts.Source{Type: contracts.SourceBackend, ID: "test"}},
		contracts.DeviceCommandRPCPayload{DeviceID: device, Method: method, RequestedBy: "tester"}, time.Minute)
	if params != "" {
		m.Payload.Params = []byte(params)
	}
	b, err := contracts.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if edit != nil {
		s = edit(s)
	}
	return []byte(s), m.CorrelationID
}

// replace returns an edit that replaces old by new once, failing the test
// when old is absent.
func replace(t *testing.T, old, new string) func(string) string {
	return func(s string) string {
		if !strings.Contains(s, old) {
			t.Fatalf("%q not in %s", old, s)
		}
		return strings.Replace(s, old, new, 1)
	}
}

func (o outcome) String() string {
	return fmt.Sprintf("answer %+v, dead letter %+v", o.answer, o.deadLetter)
}
