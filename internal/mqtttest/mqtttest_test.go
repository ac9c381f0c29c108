package mqtttest

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
	"go.uber.org/goleak"
)

// Every broker process and client goroutine must be gone when the tests end:
// the uplink's tests use goleak too.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const wait = 10 * time.Second

func TestPublishSubscribe(t *testing.T) {
	t.Parallel()
	checkPublishSubscribe(t, Start(t, Options{}))
}

func checkPublishSubscribe(t *testing.T, b *Broker) {
	t.Helper()
	if !strings.HasPrefix(b.URL(), "mqtt://127.0.0.1:") || !strings.HasSuffix(b.URL(), b.Addr()) {
		t.Fatalf("URL %q, Addr %q", b.URL(), b.Addr())
	}
	sub := b.Subscribe(t, "gw/+/telemetry", 1)
	props := &Properties{
		ResponseTopic:   "gw/gw-test/responses",
		CorrelationData: []byte{0, 1, 2},
		ContentType:     "application/json",
		User:            []UserProperty{{"k", "v1"}, {"k", "v2"}},
	}
	b.Publish(t, "gw/a/telemetry", []byte("one"), 1, false, props)
	b.Publish(t, "gw/b/telemetry", []byte("two"), 1, true, nil)
	b.Publish(t, "gw/a/other", []byte("not subscribed"), 1, false, nil)
	sub.Publish(t, "gw/c/telemetry", []byte("three"), 1, false, nil)

	msgs := sub.WaitFor(t, 3, wait)
	if len(msgs) != 3 {
		t.Fatalf("got %d messages, want 3: %+v", len(msgs), msgs)
	}
	want := []struct {
		topic, payload string
		retain         bool
	}{{"gw/a/telemetry", "one", false}, {"gw/b/telemetry", "two", true}, {"gw/c/telemetry", "three", false}}
	for i, w := range want {
		m := msgs[i]
		if m.Topic != w.topic || string(m.Payload) != w.payload || m.Retain != w.retain || m.QoS != 1 {
			t.Errorf("message %d: %s %q retain=%v qos=%d, want %s %q retain=%v qos=1",
				i, m.Topic, m.Payload, m.Retain, m.QoS, w.topic, w.payload, w.retain)
		}
	}
	m := msgs[0]
	if m.ResponseTopic != props.ResponseTopic || !bytes.Equal(m.CorrelationData, props.CorrelationData) ||
		m.ContentType != props.ContentType || fmt.Sprint(m.User) != fmt.Sprint(props.User) {
		t.Errorf("properties: got %+v, want %+v", m.Properties, *props)
	}
	if msgs[1].ResponseTopic != "" || msgs[1].CorrelationData != nil {
		t.Errorf("message without properties got %+v", msgs[1].Properties)
	}

	// A new subscription gets the retained message, flagged as retained.
	late := b.Subscribe(t, "gw/#", 1)
	got := late.WaitFor(t, 1, wait)
	if got[0].Topic != "gw/b/telemetry" || !got[0].Retain {
		t.Errorf("late subscriber: got %+v, want the retained gw/b/telemetry", got[0])
	}
}

// TestManyMessages pushes 10,000 QoS 1 messages through the broker with
// several publishers in flight at once: the broker's limits must not throttle
// or drop them.
func TestManyMessages(t *testing.T) {
	t.Parallel()
	const n = 10000
	b := Start(t, Options{})
	sub := b.Subscribe(t, "load/#", 1)
	publishMany(t, b, "load/x", n)
	msgs := sub.WaitFor(t, n, time.Minute)
	seen := make(map[string]bool, n)
	for _, m := range msgs {
		seen[string(m.Payload)] = true
	}
	if len(seen) != n {
		t.Fatalf("%d distinct messages of %d", len(seen), n)
	}
}

// TestManyQueued queues 10,000 QoS 1 messages for a subscriber that is
// offline: mosquitto's default max_queued_messages (1000) would drop most.
func TestManyQueued(t *testing.T) {
	t.Parallel()
	const n = 10000
	b := Start(t, Options{})
	const id = "offline-subscriber"

	// Subscribe, then leave with a session that outlives the connection.
	c, _ := rawConnect(t, b, id, true, nil)
	if _, err := c.Subscribe(context.Background(), &paho.Subscribe{
		Subscriptions: []paho.SubscribeOptions{{Topic: "queued/#", QoS: 1}},
	}); err != nil {
		t.Fatal(err)
	}
	if err := c.Disconnect(&paho.Disconnect{}); err != nil {
		t.Fatal(err)
	}
	<-c.Done()

	publishMany(t, b, "queued/x", n)
	if b.Embedded() {
		// mochi acknowledges a QoS 1 PUBLISH before it queues the message
		// for subscribers, and a message still on its way when the session
		// is taken over by the reconnecting client is lost: wait for all.
		deadline := time.Now().Add(wait)
		for {
			b.mu.Lock()
			cl, ok := b.mochi.Clients.Get(id)
			queued := 0
			if ok {
				queued = cl.State.Inflight.Len()
			}
			b.mu.Unlock()
			if queued == n {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the embedded broker queued %d of %d messages", queued, n)
			}
			time.Sleep(10 * time.Millisecond) // polling the broker; the deadline bounds it
		}
	}

	var mu sync.Mutex
	got := map[string]bool{}
	all := make(chan struct{})
	c, present := rawConnect(t, b, id, false, func(pr paho.PublishReceived) (bool, error) {
		mu.Lock()
		defer mu.Unlock()
		got[string(pr.Packet.Payload)] = true
		if len(got) == n {
			close(all)
		}
		return true, nil
	})
	if !present {
		t.Fatal("the broker did not keep the session")
	}
	select {
	case <-all:
	case <-time.After(20 * time.Second):
		mu.Lock()
		var missing []int
		for i := range n {
			if !got[fmt.Sprint(i)] {
				missing = append(missing, i)
			}
		}
		t.Errorf("%d of %d queued messages arrived; missing %v", len(got), n, missing[:min(len(missing), 20)])
		mu.Unlock()
	}
	_ = c.Disconnect(&paho.Disconnect{})
	<-c.Done()
}

// rawConnect connects a plain paho client with an hour's session expiry and
// reports whether the broker had a session for it.
func rawConnect(t *testing.T, b *Broker, id string, cleanStart bool, onPublish func(paho.PublishReceived) (bool, error)) (*paho.Client, bool) {
	t.Helper()
	conn, err := net.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	cfg := paho.ClientConfig{ClientID: id, Conn: packets.NewThreadSafeConn(conn)}
	if onPublish != nil {
		cfg.OnPublishReceived = []func(paho.PublishReceived) (bool, error){onPublish}
	}
	c := paho.NewClient(cfg)
	expiry := uint32(3600)
	ack, err := c.Connect(context.Background(), &paho.Connect{
		ClientID: id, CleanStart: cleanStart, KeepAlive: 30,
		Properties: &paho.ConnectProperties{SessionExpiryInterval: &expiry, RequestProblemInfo: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	if ack.ReasonCode >= 0x80 {
		t.Fatalf("CONNACK 0x%02x", ack.ReasonCode)
	}
	return c, ack.SessionPresent
}

// publishMany publishes n QoS 1 messages (payloads "0" to "n-1") with
// several publications in flight at once.
func publishMany(t *testing.T, b *Broker, topic string, n int) {
	t.Helper()
	const publishers = 8
	pub := b.Subscribe(t, "unused", 0)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	errs := make(chan error, publishers)
	var wg sync.WaitGroup
	for w := range publishers {
		wg.Go(func() {
			for i := w; i < n; i += publishers {
				if _, err := pub.cm.Publish(ctx, &paho.Publish{
					Topic: topic, QoS: 1, Payload: fmt.Appendf(nil, "%d", i),
				}); err != nil {
					errs <- fmt.Errorf("message %d: %w", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestRestartKeepsRetainedAndSessions crashes the broker and starts it again
// on its persistence file.
func TestRestartKeepsRetainedAndSessions(t *testing.T) {
	t.Parallel()
	b := Start(t, Options{Persistence: true})
	checkRestart(t, b)
}

func checkRestart(t *testing.T, b *Broker) {
	t.Helper()
	persistent := b.RequirePersistence(t)
	addr := b.Addr()
	sub := b.Subscribe(t, "cmd/#", 1)
	b.Publish(t, "state/gw-test", []byte("online"), 1, true, nil)
	b.Checkpoint(t)

	b.Kill()
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatalf("the killed broker still accepts connections on %s", addr)
	}
	b.Restart(t)
	if b.Addr() != addr {
		t.Fatalf("Restart moved the broker from %s to %s", addr, b.Addr())
	}

	// The subscriber is back (Restart waited for it) and gets what follows.
	b.Publish(t, "cmd/1", []byte("after restart"), 1, false, nil)
	if msgs := sub.WaitFor(t, 1, wait); string(msgs[0].Payload) != "after restart" {
		t.Errorf("subscriber after restart got %+v", msgs)
	}

	late := b.Subscribe(t, "state/#", 1)
	if !persistent {
		b.Publish(t, "state/probe", []byte("x"), 1, false, nil)
		msgs := late.WaitFor(t, 1, wait)
		if msgs[0].Topic != "state/probe" {
			t.Errorf("embedded broker kept a retained message across a restart: %+v", msgs[0])
		}
		return
	}
	msgs := late.WaitFor(t, 1, wait)
	if msgs[0].Topic != "state/gw-test" || string(msgs[0].Payload) != "online" || !msgs[0].Retain {
		t.Errorf("retained message after Kill and Restart: got %+v", msgs[0])
	}

	// A graceful stop saves everything, and the subscriber's session is
	// kept: it gets what follows without subscribing again.
	b.Stop()
	b.Restart(t)
	b.Publish(t, "cmd/2", []byte("second"), 1, false, nil)
	if msgs := sub.WaitFor(t, 2, wait); string(msgs[1].Payload) != "second" {
		t.Errorf("subscriber after Stop and Restart got %+v", msgs)
	}
}

// TestSessionQueuedWhileAway checks that QoS 1 messages published while a
// subscriber is disconnected are delivered, in order, when it is back.
func TestSessionQueuedWhileAway(t *testing.T) {
	t.Parallel()
	b := Start(t, Options{Persistence: true})
	sub := b.Subscribe(t, "q/#", 1)

	// Take the subscriber away without ending its session.
	gen := sub.generation()
	sub.cm.TerminateConnectionForTest()
	for i := range 100 {
		b.Publish(t, "q/x", fmt.Appendf(nil, "%d", i), 1, false, nil)
	}
	if err := sub.awaitReady(gen, wait); err != nil {
		t.Fatal(err)
	}
	msgs := sub.WaitFor(t, 100, wait)
	for i, m := range msgs[:100] {
		if string(m.Payload) != fmt.Sprint(i) {
			t.Fatalf("message %d: %q", i, m.Payload)
		}
	}
}

// TestKillRightAfterSubscribe: Subscribe saves the new session, so that a
// crash right after it does not lose the subscription.
func TestKillRightAfterSubscribe(t *testing.T) {
	t.Parallel()
	b := Start(t, Options{Persistence: true})
	sub := b.Subscribe(t, "k/#", 1)
	b.Kill()
	b.Restart(t)
	b.Publish(t, "k/1", []byte("x"), 1, false, nil)
	sub.WaitFor(t, 1, wait)
	if !b.RequirePersistence(t) {
		return // the embedded broker lost the session; the subscriber made a new one
	}
	sub.mu.Lock()
	subacks := sub.subacks
	sub.mu.Unlock()
	if subacks != 1 {
		t.Errorf("the subscriber subscribed %d times; want once (the broker kept its session)", subacks)
	}
}

func TestTLS(t *testing.T) {
	t.Parallel()
	checkTLS(t, Start(t, Options{TLS: true}), false)
}

func TestTLSRequireClientCert(t *testing.T) {
	t.Parallel()
	checkTLS(t, Start(t, Options{RequireClientCert: true, ClientCN: "gw-0042"}), true)
}

func checkTLS(t *testing.T, b *Broker, clientCertRequired bool) {
	t.Helper()
	if !strings.HasPrefix(b.URL(), "mqtts://127.0.0.1:") {
		t.Fatalf("URL %q", b.URL())
	}
	for _, f := range []string{b.CAFile, b.ClientCertFile, b.ClientKeyFile} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("certificate file: %v", err)
		}
	}
	pair, err := tls.LoadX509KeyPair(b.ClientCertFile, b.ClientKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	wantCN := "gw-test"
	if clientCertRequired {
		wantCN = "gw-0042"
	}
	if pair.Leaf.Subject.CommonName != wantCN {
		t.Errorf("client certificate CN %q, want %q", pair.Leaf.Subject.CommonName, wantCN)
	}

	sub := b.Subscribe(t, "secure/#", 1)
	b.Publish(t, "secure/1", []byte("hello"), 1, false, nil)
	if msgs := sub.WaitFor(t, 1, wait); string(msgs[0].Payload) != "hello" {
		t.Errorf("got %+v", msgs)
	}

	// With the client certificate, TLS 1.2 and 1.3 both work.
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		cfg := b.TLSConfig()
		cfg.MinVersion, cfg.MaxVersion = v, v
		if err := mqttConnect(b, cfg); err != nil {
			t.Errorf("%s with a client certificate: %v", tls.VersionName(v), err)
		}
	}
	// TLS 1.1 is below the minimum.
	cfg := b.TLSConfig()
	cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS11, tls.VersionTLS11
	if err := mqttConnect(b, cfg); err == nil {
		t.Errorf("TLS 1.1 connection accepted")
	}
	// A client that does not trust the CA refuses the server.
	cfg = b.TLSConfig()
	cfg.RootCAs = nil
	if err := mqttConnect(b, cfg); err == nil {
		t.Errorf("connected without trusting the test CA")
	}
	// Without a client certificate.
	cfg = b.TLSConfig()
	cfg.Certificates = nil
	err = mqttConnect(b, cfg)
	if clientCertRequired && err == nil {
		t.Errorf("connected without a client certificate although one is required")
	}
	if !clientCertRequired && err != nil {
		t.Errorf("without a client certificate: %v", err)
	}
	if clientCertRequired {
		t.Logf("without a client certificate: %v", err)
	}
}

// mqttConnect makes one MQTT v5 connection with cfg and disconnects.
func mqttConnect(b *Broker, cfg *tls.Config) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d := tls.Dialer{Config: cfg}
	conn, err := d.DialContext(ctx, "tcp", b.Addr())
	if err != nil {
		return err
	}
	defer conn.Close()
	c := paho.NewClient(paho.ClientConfig{Conn: packets.NewThreadSafeConn(conn)})
	ack, err := c.Connect(ctx, &paho.Connect{ClientID: "probe", CleanStart: true, KeepAlive: 5})
	if err != nil {
		return err
	}
	if ack.ReasonCode >= 0x80 {
		return fmt.Errorf("CONNACK reason 0x%02x", ack.ReasonCode)
	}
	return c.Disconnect(&paho.Disconnect{})
}

// TestEmbeddedFallback runs the embedded broker (as on a machine without
// mosquitto) in every run, CI included.
func TestEmbeddedFallback(t *testing.T) {
	t.Setenv(EnvMosquitto, "/nonexistent/mosquitto")
	t.Setenv(EnvCI, "")

	t.Run("plain", func(t *testing.T) {
		b := Start(t, Options{Persistence: true})
		if !b.Embedded() || b.ConfigFile != "" {
			t.Fatalf("Embedded() = %v, ConfigFile %q", b.Embedded(), b.ConfigFile)
		}
		checkPublishSubscribe(t, b)
		checkRestart(t, b)
	})
	t.Run("tls", func(t *testing.T) {
		checkTLS(t, Start(t, Options{TLS: true}), false)
	})
	t.Run("client cert", func(t *testing.T) {
		checkTLS(t, Start(t, Options{RequireClientCert: true, ClientCN: "gw-0042"}), true)
	})
	t.Run("revoke", func(t *testing.T) {
		checkSignAndRevoke(t, Start(t, Options{RequireClientCert: true}))
	})
}

// TestMissingMosquittoInCI: with CI set, a missing mosquitto fails the test
// with an explanation instead of falling back.
func TestMissingMosquittoInCI(t *testing.T) {
	t.Setenv(EnvMosquitto, "/nonexistent/mosquitto")
	t.Setenv(EnvCI, "true")
	msg := fatalMessage(t, func(tb testing.TB) { Start(tb, Options{}) })
	for _, want := range []string{"mosquitto not found", "/nonexistent/mosquitto", "apt-get install mosquitto", ".ci/run"} {
		if !strings.Contains(msg, want) {
			t.Errorf("failure message %q lacks %q", msg, want)
		}
	}
}

// TestRequirePersistenceInCI: the embedded broker cannot satisfy a test that
// needs persistence in CI.
func TestRequirePersistenceInCI(t *testing.T) {
	t.Setenv(EnvMosquitto, "/nonexistent/mosquitto")
	t.Setenv(EnvCI, "")
	b := Start(t, Options{Persistence: true})
	t.Setenv(EnvCI, "true")
	msg := fatalMessage(t, func(tb testing.TB) { b.RequirePersistence(tb) })
	if !strings.Contains(msg, "persistence") || !strings.Contains(msg, "mosquitto") {
		t.Errorf("failure message %q", msg)
	}
}

// fatalMessage runs f with a testing.TB whose Fatalf records the message and
// ends f, and returns the message; it fails if f did not call Fatalf.
func fatalMessage(t *testing.T, f func(testing.TB)) string {
	t.Helper()
	r := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	if r.msg == "" {
		t.Fatalf("no Fatalf")
	}
	t.Logf("Fatalf: %s", r.msg)
	return r.msg
}

type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// TestURLParses: the URL is one autopaho accepts.
func TestURLParses(t *testing.T) {
	t.Parallel()
	b := Start(t, Options{TLS: true})
	u, err := url.Parse(b.URL())
	if err != nil || u.Scheme != "mqtts" || u.Host != b.Addr() {
		t.Fatalf("url.Parse(%q) = %v, %v", b.URL(), u, err)
	}
}
