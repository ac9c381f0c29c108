package mqtt_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/agent/outbox/outboxtest"
	"github.com/iot-hub/agent/agent/uplink/mqtt"
	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/internal/mqtttest"
)

const device = "gw-test"

var topics, _ = contracts.DeviceTopics(device)

// rig is an outbox, an uplink running on it, and what the handler got.
type rig struct {
	box    *outbox.Store
	up     *mqtt.Uplink
	cancel context.CancelFunc
	done   chan error

	mu       sync.Mutex
	commands []mqtt.Command
}

// startUplink opens an outbox in dir and runs an uplink to broker on it
// (to cfg.Broker when set: a relay to b).
// The outbox hands telemetry out strictly in order (LiveShare off): these
// tests check that the uplink keeps the order the outbox gives; with the
// default LiveShare the outbox itself lets fresh telemetry overtake a
// backlog.
func startUplink(t *testing.T, b *mqtttest.Broker, dir string, cfg mqtt.Config) *rig {
	t.Helper()
	box := outboxtest.OpenAt(t, filepath.Join(dir, "outbox.db"), outbox.Config{Settings: outbox.Settings{MaxBytes: 256 << 20, LiveShare: -1}})
	r := &rig{box: box, done: make(chan error, 1)}
	if cfg.Broker == "" {
		cfg.Broker = b.URL()
	}
	cfg.DeviceID = device
	if cfg.BackoffMin == 0 {
		cfg.BackoffMin, cfg.BackoffMax = 50*time.Millisecond, 500*time.Millisecond
	}
	if b.CAFile != "" {
		cfg.CAFile = b.CAFile
		if cfg.Certificates == nil {
			cfg.CertFile, cfg.KeyFile = b.ClientCertFile, b.ClientKeyFile
		}
	}
	var err error
	r.up, err = mqtt.New(cfg, box, func(_ context.Context, c mqtt.Command) {
		r.mu.Lock()
		r.commands = append(r.commands, c)
		r.mu.Unlock()
		if !bytes.Contains(c.Payload, []byte("hold")) {
			c.Ack()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- r.up.Run(ctx) }()
	t.Cleanup(r.stop)
	return r
}

// stop ends the uplink and closes the outbox; it may be called twice.
func (r *rig) stop() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	<-r.done
	r.box.Close()
	r.cancel = nil
}

func (r *rig) received() []mqtt.Command {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]mqtt.Command(nil), r.commands...)
}

// records makes n records alternating between the lanes, numbered per
// lane in their payload ("control-7", "telemetry-12").
func records(n int) []outbox.Record {
	out := make([]outbox.Record, n)
	for i := range out {
		lane, topic := outbox.LaneTelemetry, topics.Telemetry
		if i%5 == 0 {
			lane, topic = outbox.LaneControl, topics.Events
		}
		out[i] = outbox.Record{Lane: lane, Topic: topic, Key: []byte(device),
			Payload: fmt.Appendf(nil, "%s-%06d-%s", lane, i, strings.Repeat("x", 180))}
	}
	return out
}

func TestPublishesEveryRecordInLaneOrder(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts mqtttest.Options
	}{
		{"mosquitto", mqtttest.Options{}},
		{"mosquitto-tls-client-cert", mqtttest.Options{TLS: true, RequireClientCert: true}},
		// A stock mosquitto's Receive Maximum, 20, below the uplink's
		// window of 256: the session holds the rest back.
		{"mosquitto-stock-receive-maximum", mqtttest.Options{StockReceiveMaximum: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := mqtttest.Start(t, tc.opts)
			sub := b.Subscribe(t, "iot/v1/devices/"+device+"/+", 1)
			const n = 10000
			r := startUplink(t, b, t.TempDir(), mqtt.Config{})
			if err := r.box.Append(context.Background(), records(n)...); err != nil {
				t.Fatal(err)
			}
			msgs := sub.WaitFor(t, n+1, 60*time.Second) // and the online status
			dups := checkStream(t, msgs, n)
			if dups != 0 {
				t.Errorf("%d duplicates without any reconnect; want 0", dups)
			}
			checkStatus(t, msgs, contracts.DeviceOnline)
		})
	}
}

// checkStream checks msgs hold every record of records(n) at least once,
// each lane in order of first arrival, and returns the duplicates.
func checkStream(t *testing.T, msgs []mqtttest.Message, n int) int {
	t.Helper()
	seen := make(map[int]bool)
	last := map[string]int{"control": -1, "telemetry": -1}
	dups := 0
	for _, m := range msgs {
		if m.Topic == topics.Status {
			continue
		}
		parts := strings.SplitN(string(m.Payload), "-", 3)
		if len(parts) != 3 {
			t.Fatalf("unexpected message %q on %s", m.Payload, m.Topic)
		}
		i, _ := strconv.Atoi(parts[1])
		if seen[i] {
			dups++
			continue
		}
		seen[i] = true
		if i < last[parts[0]] {
			t.Errorf("%s record %d arrived after %d: lane order broken", parts[0], i, last[parts[0]])
		}
		last[parts[0]] = i
	}
	if len(seen) != n {
		missing := []int{}
		for i := 0; i < n && len(missing) < 10; i++ {
			if !seen[i] {
				missing = append(missing, i)
			}
		}
		t.Errorf("%d of %d records arrived; first missing: %v", len(seen), n, missing)
	}
	return dups
}

// checkStatus checks the last status message says want.
func checkStatus(t *testing.T, msgs []mqtttest.Message, want contracts.DeviceStatus) {
	t.Helper()
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Topic != topics.Status {
			continue
		}
		m, err := contracts.Decode(msgs[i].Payload)
		if err != nil {
			t.Fatalf("status message %s: %v", msgs[i].Payload, err)
		}
		if got := m.(*contracts.DeviceStatusChanged).Payload.Status; got != want {
			t.Errorf("status = %s; want %s", got, want)
		}
		return
	}
	t.Errorf("no status message; want %s", want)
}

func TestSurvivesBrokerRestarts(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{Persistence: true})
	if !b.RequirePersistence(t) {
		t.Fatal("the embedded broker keeps no session across restarts; this test needs mosquitto")
	}
	sub := b.Subscribe(t, "iot/v1/devices/"+device+"/+", 1)
	const n, window = 10000, 64
	r := startUplink(t, b, t.TempDir(), mqtt.Config{Settings: mqtt.Settings{Window: window}})
	recs := records(n)
	for i := range recs {
		if err := r.box.Append(context.Background(), recs[i]); err != nil {
			t.Fatal(err)
		}
		if i > 0 && i%2500 == 0 && i <= 7500 { // three restarts mid-stream
			// Stopped, not killed: mosquitto writes its persistence file
			// only on a clean exit (or at autosave), so a SIGKILL loses
			// what it acknowledged and had not yet delivered; that would
			// test mosquitto, not the agent.
			b.Stop()
			b.Restart(t)
		}
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		msgs := sub.Messages()
		seen := map[string]bool{}
		for _, m := range msgs {
			if m.Topic != topics.Status {
				seen[string(m.Payload)] = true
			}
		}
		if len(seen) >= n || time.Now().After(deadline) {
			dups := checkStream(t, msgs, n)
			t.Logf("%d records, %d duplicates after 3 broker restarts (window %d)", n, dups, window)
			if dups > 3*2*window {
				t.Errorf("%d duplicates; want at most %d (twice the window per restart)", dups, 3*2*window)
			}
			return
		}
		time.Sleep(50 * time.Millisecond) // polling the subscriber; the deadline bounds it
	}
}

// A broker that restarts without its sessions (no persistence, or the
// session expired) answers the reconnect with Session Present 0, and paho
// forgets the publishes in flight without a word. The uplink must send
// them again: else they stay in flight for good, and take the window with
// them.
func TestRepublishesWhatTheBrokerForgot(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{}) // no persistence
	const n = 20000
	// The records are in the file before the uplink starts: appended
	// while it runs, they may all be sent and acknowledged while their
	// commit is under way, before the test looks.
	dir := t.TempDir()
	box, err := outbox.Open(filepath.Join(dir, "outbox.db"), outbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := box.Append(context.Background(), records(n)...); err != nil {
		t.Fatal(err)
	}
	if err := box.Close(); err != nil {
		t.Fatal(err)
	}
	r := startUplink(t, b, dir, mqtt.Config{})
	waitUntil(t, "publishes in flight", func() bool { return r.box.Stats().InFlight > 0 })
	b.Stop()
	inFlight := r.box.Stats().InFlight
	b.Restart(t)
	if inFlight == 0 {
		t.Fatal("nothing was in flight when the broker stopped; the test proves nothing")
	}
	// The restarted broker knows nothing of the publishes in flight: only
	// ones sent again can be acknowledged, and until they are they hold
	// the window. (A subscriber of the restarted broker cannot count
	// them: the uplink may send them before it subscribes again.)
	waitUntil(t, "every record acknowledged", func() bool {
		st := r.box.Stats()
		return st.Control.Depth+st.Telemetry.Depth == 0 && st.InFlight == 0
	})
	t.Logf("%d publishes were in flight when the broker lost its sessions; all sent again and acknowledged", inFlight)
}

func TestCommandsSentWhileOfflineArriveAfterReconnect(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{Persistence: true})
	if !b.RequirePersistence(t) {
		t.Fatal("the embedded broker keeps no session across restarts; this test needs mosquitto")
	}
	dir := t.TempDir()
	r := startUplink(t, b, dir, mqtt.Config{})
	waitUntil(t, "the first connection", func() bool { return r.up.State().Connected })
	sub := b.Subscribe(t, topics.Status, 1)
	sub.WaitFor(t, 1, 10*time.Second) // online: the subscription is in place
	r.stop()

	for i := range 3 {
		b.Publish(t, topics.Commands, fmt.Appendf(nil, `{"n":%d}`, i), 1, false,
			&mqtttest.Properties{ResponseTopic: "backend/replies", CorrelationData: []byte{byte(i)}})
	}
	b.Publish(t, topics.Commands, []byte("this is not JSON"), 1, false, nil)

	r2 := startUplink(t, b, dir, mqtt.Config{})
	waitUntil(t, "4 commands", func() bool { return len(r2.received()) >= 4 })
	got := r2.received()
	for i, c := range got[:3] {
		if string(c.Payload) != fmt.Sprintf(`{"n":%d}`, i) || c.ResponseTopic != "backend/replies" || len(c.CorrelationData) != 1 || c.CorrelationData[0] != byte(i) {
			t.Errorf("command %d = %+v; want payload n=%d with its response topic and correlation data", i, c, i)
		}
	}
	if string(got[3].Payload) != "this is not JSON" {
		t.Errorf("command 3 = %q; want the malformed message passed on as it came", got[3].Payload)
	}
}

// A command is acknowledged when its handler says so, not when it comes:
// one the agent had not finished with when it stopped comes again.
func TestUnacknowledgedCommandComesAgain(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{})
	dir := t.TempDir()
	r := startUplink(t, b, dir, mqtt.Config{})
	waitUntil(t, "the first connection", func() bool { return r.up.State().Connected })
	sub := b.Subscribe(t, topics.Status, 1)
	sub.WaitFor(t, 1, 10*time.Second) // online: the subscription is in place
	b.Publish(t, topics.Commands, []byte(`{"n":1}`), 1, false, nil)
	b.Publish(t, topics.Commands, []byte(`{"n":2,"hold":true}`), 1, false, nil)
	waitUntil(t, "2 commands", func() bool { return len(r.received()) >= 2 })
	r.stop()

	r2 := startUplink(t, b, dir, mqtt.Config{})
	// Redeliveries come in order: the first command, were it sent again,
	// would come first.
	waitUntil(t, "the held command again", func() bool { return len(r2.received()) >= 1 })
	got := r2.received()
	if len(got) != 1 || !bytes.Contains(got[0].Payload, []byte("hold")) {
		var ps []string
		for _, c := range got {
			ps = append(ps, string(c.Payload))
		}
		t.Errorf("after restart received %q; want only the unacknowledged command", ps)
	}
}

func TestStopPublishesOfflineStatus(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{})
	sub := b.Subscribe(t, topics.Status, 1)
	r := startUplink(t, b, t.TempDir(), mqtt.Config{})
	checkStatus(t, sub.WaitFor(t, 1, 10*time.Second), contracts.DeviceOnline)
	r.stop()
	checkStatus(t, sub.WaitFor(t, 2, 10*time.Second), contracts.DeviceOffline)
}

func TestPublishesThroughEmbeddedBrokerToo(t *testing.T) {
	t.Setenv("MQTTTEST_MOSQUITTO", "/nonexistent")
	t.Setenv("CI", "")
	b := mqtttest.Start(t, mqtttest.Options{})
	if !b.Embedded() {
		t.Fatal("want the embedded broker")
	}
	sub := b.Subscribe(t, "iot/v1/devices/"+device+"/+", 1)
	const n = 2000
	r := startUplink(t, b, t.TempDir(), mqtt.Config{})
	if err := r.box.Append(context.Background(), records(n)...); err != nil {
		t.Fatal(err)
	}
	if dups := checkStream(t, sub.WaitFor(t, n+1, 60*time.Second), n); dups != 0 {
		t.Errorf("%d duplicates; want 0", dups)
	}
}

func TestConfigValidate(t *testing.T) {
	valid := mqtt.Config{Settings: mqtt.Settings{Broker: "mqtt://127.0.0.1:1883"}, DeviceID: "gw-1"}
	if err := valid.Validate(); err != nil {
		t.Fatalf("Validate(%+v) = %v", valid, err)
	}
	withSource := mqtt.Config{Settings: mqtt.Settings{Broker: "mqtts://127.0.0.1:8883", CAFile: "ca.pem"}, DeviceID: "gw-1", Certificates: &swapSource{}}
	if err := withSource.Validate(); err != nil {
		t.Fatalf("Validate(%+v) = %v", withSource, err)
	}
	for _, c := range []struct {
		mutate func(*mqtt.Config)
		field  string
	}{
		{func(c *mqtt.Config) { c.Broker = "" }, "Broker"},
		{func(c *mqtt.Config) { c.Broker = "http://x:1" }, "scheme"},
		{func(c *mqtt.Config) { c.DeviceID = "" }, "DeviceID"},
		{func(c *mqtt.Config) { c.Window = -1 }, "Window"},
		{func(c *mqtt.Config) { c.MaxCommandBytes = -1 }, "MaxCommandBytes"},
		{func(c *mqtt.Config) { c.MaxCommandBytes = 64<<20 + 1 }, "MaxCommandBytes"},
		{func(c *mqtt.Config) { c.KeepAlive = time.Millisecond }, "KeepAlive"},
		{func(c *mqtt.Config) { c.BackoffMin, c.BackoffMax = time.Minute, time.Second }, "Backoff"},
		{func(c *mqtt.Config) { c.CertFile = "c.pem" }, "KeyFile"},
		{func(c *mqtt.Config) {
			c.Broker, c.Certificates, c.CertFile, c.KeyFile = "mqtts://127.0.0.1:8883", &swapSource{}, "c.pem", "k.pem"
		}, "Certificates excludes CertFile and KeyFile"},
		{func(c *mqtt.Config) {
			c.Broker, c.Certificates, c.CertFile = "mqtts://127.0.0.1:8883", &swapSource{}, "c.pem"
		}, "Certificates excludes CertFile and KeyFile"}, // CertFile alone is enough
	} {
		cfg := valid
		c.mutate(&cfg)
		if err := cfg.Validate(); !errors.Is(err, mqtt.ErrInvalidConfig) || !strings.Contains(err.Error(), c.field) {
			t.Errorf("Validate(%+v) = %v; want ErrInvalidConfig naming %s", cfg, err, c.field)
		}
	}
}

// waitUntil polls cond until it holds or 20 s pass.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestBrokerRefusalQuarantinesTheRecord(t *testing.T) {
	forbidden := "iot/v1/devices/" + device + "/forbidden"
	b := mqtttest.Start(t, mqtttest.Options{ACL: "topic readwrite #\ntopic deny " + forbidden})
	sub := b.Subscribe(t, "iot/v1/devices/"+device+"/+", 1)
	r := startUplink(t, b, t.TempDir(), mqtt.Config{})
	refused := outbox.Record{Lane: outbox.LaneControl, Topic: forbidden, Payload: []byte("refused")}
	fine := outbox.Record{Lane: outbox.LaneControl, Topic: topics.Events, Payload: []byte("fine")}
	if err := r.box.Append(context.Background(), refused, fine); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the refused record to be quarantined", func() bool { return r.box.Stats().Quarantined == 1 })
	msgs := sub.WaitFor(t, 2, 10*time.Second) // the online status and "fine"
	for _, m := range msgs {
		if string(m.Payload) == "refused" {
			t.Errorf("the refused record reached a subscriber on %s", m.Topic)
		}
	}
	waitUntil(t, "the outbox to drain", func() bool {
		st := r.box.Stats()
		return st.Control.Depth == 0 && st.InFlight == 0
	})
}

func TestCommandReply(t *testing.T) {
	topic, headers := mqtt.Command{}.ReplyTo(topics.Responses)
	if topic != topics.Responses || len(headers) != 1 || headers[0].Key != mqtt.HeaderContentType {
		t.Errorf("no Response Topic: ReplyTo = %q, %v; want the fallback and a content type only", topic, headers)
	}
	topic, headers = mqtt.Command{ResponseTopic: "backend/replies", CorrelationData: []byte{7}}.ReplyTo(topics.Responses)
	if topic != "backend/replies" || len(headers) != 2 || headers[1].Key != mqtt.HeaderCorrelationData || string(headers[1].Value) != "\x07" {
		t.Errorf("ReplyTo = %q, %v; want the Response Topic and the Correlation Data", topic, headers)
	}
}
