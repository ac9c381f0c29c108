package mqtttest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"
)

// clientTimeout bounds how long a helper client waits to connect, subscribe
// or have a publication acknowledged.
const clientTimeout = 10 * time.Second

// sessionExpiry is the MQTT v5 Session Expiry Interval of helper clients: the
// broker keeps their session (subscription and queued QoS 1/2 messages) this
// long while they are disconnected.
const sessionExpiry = 3600 // seconds

// Message is a PUBLISH received by a [Subscriber].
type Message struct {
	Topic   string
	Payload []byte
	QoS     byte
	// Retain is the RETAIN flag. The subscription asks for Retain As
	// Published, so it is the publisher's flag for a live message, and true
	// for a retained message sent because the subscription was made.
	Retain bool
	// Duplicate is the DUP flag: the broker may have sent it before.
	Duplicate bool
	// Properties are the MQTT v5 properties the message carried.
	Properties
}

// Properties are the MQTT v5 PUBLISH properties that tests look at, on a
// received [Message] and for [Subscriber.Publish].
type Properties struct {
	// ResponseTopic is where the receiver of a request should answer.
	ResponseTopic string
	// CorrelationData ties a response to its request.
	CorrelationData []byte
	// ContentType is the payload's MIME type.
	ContentType string
	// User are the user properties, in order; a key may repeat.
	User []UserProperty
}

// UserProperty is one MQTT v5 user property.
type UserProperty struct {
	Key, Value string
}

// Subscriber is an MQTT v5 test client (paho.golang's autopaho) with a
// subscription, made by [Broker.Subscribe]. It records every message it
// receives, in order of arrival, and acknowledges them. It reconnects every
// 100 ms after losing the broker, with Clean Start false and a session
// expiry of an hour, so that with a persistent broker the QoS 1/2 messages
// published while it was away are delivered when it is back; when the broker
// lost its session (no persistence, the embedded broker, a crash before the
// last save), it subscribes again, and retained messages are then sent again
// too. Messages published while it had no subscription are not delivered.
//
// Its methods are safe for concurrent use; those that take a testing.TB must
// be called from the test's goroutine.
type Subscriber struct {
	b     *Broker
	topic string // "" for the client behind Broker.Publish
	qos   byte
	cm    *autopaho.ConnectionManager

	cancel context.CancelFunc
	subWG  sync.WaitGroup // subscribe calls in flight
	closed atomic.Bool

	mu         sync.Mutex
	msgs       []Message
	changed    chan struct{} // closed and replaced on every change below
	gen        uint64        // connections made so far
	readyGen   uint64        // last connection whose subscription is in place
	subscribed bool          // a SUBACK was received at least once
	subacks    int           // SUBACKs received (1 unless the broker lost the session)
	subErr     error         // last failed subscription
}

var clientSeq atomic.Uint64

// Subscribe connects a [Subscriber] to the broker (with TLS and the client
// certificate when the broker has TLS) and subscribes to the topic filter
// with the given maximum QoS. It returns once the broker has acknowledged the
// subscription (10 s at most, else the test fails) and, with mosquitto and
// Options.Persistence, has saved it ([Broker.Checkpoint]), so that the
// subscriber's session survives even an immediate [Broker.Kill]. The
// subscriber disconnects when the test ends.
func (b *Broker) Subscribe(t testing.TB, topic string, qos byte) *Subscriber {
	t.Helper()
	if topic == "" {
		t.Fatalf("mqtttest: Subscribe needs a topic filter")
	}
	s, err := b.newClient(topic, qos)
	if err != nil {
		t.Fatalf("mqtttest: Subscribe %q: %v", topic, err)
	}
	t.Cleanup(s.Close)
	if err := b.saveSessions(); err != nil {
		t.Fatalf("mqtttest: Subscribe %q: %v", topic, err)
	}
	return s
}

// Publish publishes a message through a client of the broker's own (made on
// first use and closed with the broker); see [Subscriber.Publish].
func (b *Broker) Publish(t testing.TB, topic string, payload []byte, qos byte, retain bool, props *Properties) {
	t.Helper()
	b.pubMu.Lock()
	if b.pub == nil {
		b.mu.Lock()
		stopped := b.stopped
		b.mu.Unlock()
		if stopped {
			b.pubMu.Unlock()
			t.Fatalf("mqtttest: Publish after the test that started the broker has ended")
		}
		pub, err := b.newClient("", 0)
		if err != nil {
			b.pubMu.Unlock()
			t.Fatalf("mqtttest: Publish: %v", err)
		}
		b.pub = pub
	}
	pub := b.pub
	b.pubMu.Unlock()
	pub.Publish(t, topic, payload, qos, retain, props)
}

// newClient connects a client and, when topic is not empty, subscribes it;
// it returns when that is done.
func (b *Broker) newClient(topic string, qos byte) (*Subscriber, error) {
	u, err := url.Parse(b.URL())
	if err != nil {
		return nil, err
	}
	s := &Subscriber{b: b, topic: topic, qos: qos, changed: make(chan struct{})}
	cfg := autopaho.ClientConfig{
		ServerUrls:                    []*url.URL{u},
		TlsCfg:                        b.TLSConfig(),
		KeepAlive:                     30,
		CleanStartOnInitialConnection: false,
		SessionExpiryInterval:         sessionExpiry,
		ReconnectBackoff:              autopaho.NewConstantBackoff(100 * time.Millisecond),
		ConnectTimeout:                5 * time.Second,
		OnConnectionUp:                s.onConnectionUp,
		OnConnectionDown:              func() bool { return true },
		// autopaho sends Request Problem Information 0 unless told
		// otherwise; mochi-mqtt then strips user properties from the
		// PUBLISH packets it sends (the spec allows that only on other
		// packets). 1 is also the MQTT default.
		ConnectPacketBuilder: func(c *paho.Connect, _ *url.URL) (*paho.Connect, error) {
			if c.Properties == nil {
				c.Properties = &paho.ConnectProperties{}
			}
			c.Properties.RequestProblemInfo = true
			return c, nil
		},
		ClientConfig: paho.ClientConfig{
			ClientID:          fmt.Sprintf("mqtttest-%d-%d", os.Getpid(), clientSeq.Add(1)),
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){s.onPublish},
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	cm, err := autopaho.NewConnection(ctx, cfg)
	if err != nil {
		cancel()
		return nil, err
	}
	s.cm = cm
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	if err := s.awaitReady(0, clientTimeout); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// onConnectionUp runs in autopaho's goroutine and must not block.
func (s *Subscriber) onConnectionUp(cm *autopaho.ConnectionManager, connack *paho.Connack) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	if s.topic == "" || (s.subscribed && connack.SessionPresent) {
		// The broker kept the session and with it the subscription.
		s.readyGen = s.gen
		s.notifyLocked()
		return
	}
	if s.closed.Load() {
		return
	}
	gen := s.gen
	s.subWG.Add(1)
	go func() {
		defer s.subWG.Done()
		ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
		defer cancel()
		suback, err := cm.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{
			Topic:             s.topic,
			QoS:               s.qos,
			RetainAsPublished: true,
		}}})
		if err == nil && len(suback.Reasons) > 0 && suback.Reasons[0] >= 0x80 {
			err = fmt.Errorf("SUBACK reason code 0x%02x", suback.Reasons[0])
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if err != nil {
			s.subErr = fmt.Errorf("subscribing to %q: %w", s.topic, err)
		} else {
			s.subscribed = true
			s.subacks++
			s.subErr = nil
			if gen > s.readyGen {
				s.readyGen = gen
			}
		}
		s.notifyLocked()
	}()
}

// onPublish runs in paho's goroutine; paho acknowledges after it returns.
func (s *Subscriber) onPublish(pr paho.PublishReceived) (bool, error) {
	p := pr.Packet
	m := Message{
		Topic:     p.Topic,
		Payload:   append([]byte(nil), p.Payload...),
		QoS:       p.QoS,
		Retain:    p.Retain,
		Duplicate: p.Duplicate(),
	}
	if pp := p.Properties; pp != nil {
		m.ResponseTopic = pp.ResponseTopic
		m.CorrelationData = append([]byte(nil), pp.CorrelationData...)
		m.ContentType = pp.ContentType
		for _, u := range pp.User {
			m.User = append(m.User, UserProperty{Key: u.Key, Value: u.Value})
		}
	}
	s.mu.Lock()
	s.msgs = append(s.msgs, m)
	s.notifyLocked()
	s.mu.Unlock()
	return true, nil
}

func (s *Subscriber) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Subscriber) generation() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gen
}

// awaitReady waits until a connection made after connection number gen has
// its subscription in place.
func (s *Subscriber) awaitReady(gen uint64, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		ready, subErr, changed := s.readyGen > gen, s.subErr, s.changed
		s.mu.Unlock()
		if ready {
			return nil
		}
		select {
		case <-changed:
		case <-deadline.C:
			what := "connect to " + s.b.URL()
			if s.topic != "" {
				what += " and subscribe to " + fmt.Sprintf("%q", s.topic)
			}
			if subErr != nil {
				return fmt.Errorf("client did not %s within %v: %w", what, timeout, subErr)
			}
			return fmt.Errorf("client did not %s within %v", what, timeout)
		}
	}
}

// Messages returns a copy of the messages received so far, in order of
// arrival.
func (s *Subscriber) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Clear forgets the messages received so far.
func (s *Subscriber) Clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = nil
}

// WaitFor waits until at least n messages have been received and returns
// all those received by then (possibly more than n), in order of arrival. It
// wakes on each arrival rather than sleeping. If fewer than n arrive within
// timeout, it fails the test, saying how many did.
func (s *Subscriber) WaitFor(t testing.TB, n int, timeout time.Duration) []Message {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		got, changed := len(s.msgs), s.changed
		if got >= n {
			msgs := append([]Message(nil), s.msgs...)
			s.mu.Unlock()
			return msgs
		}
		s.mu.Unlock()
		select {
		case <-changed:
		case <-deadline.C:
			got = len(s.Messages())
			t.Fatalf("mqtttest: subscriber of %q: %d of %d messages arrived within %v", s.topic, got, n, timeout)
		}
	}
}

// Publish publishes a message on the subscriber's connection and, for QoS 1
// and 2, waits for the broker's acknowledgement. props may be nil. If the
// client is not connected (the broker restarts), it waits for the connection
// and tries again; a QoS 1 message may then reach the broker twice. It fails
// the test if the message was not accepted within 10 s.
func (s *Subscriber) Publish(t testing.TB, topic string, payload []byte, qos byte, retain bool, props *Properties) {
	t.Helper()
	p := &paho.Publish{Topic: topic, Payload: payload, QoS: qos, Retain: retain}
	if props != nil {
		p.Properties = &paho.PublishProperties{
			ResponseTopic:   props.ResponseTopic,
			CorrelationData: props.CorrelationData,
			ContentType:     props.ContentType,
		}
		for _, u := range props.User {
			p.Properties.User = append(p.Properties.User, paho.UserProperty{Key: u.Key, Value: u.Value})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	var lastErr error
	for {
		err := s.cm.AwaitConnection(ctx)
		if err == nil {
			var resp *paho.PublishResponse
			resp, err = s.cm.Publish(ctx, p)
			if err == nil {
				if resp != nil && resp.ReasonCode >= 0x80 {
					t.Fatalf("mqtttest: publishing to %q: the broker answered reason code 0x%02x", topic, resp.ReasonCode)
				}
				return
			}
		}
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			lastErr = err
		}
		if ctx.Err() != nil || s.closed.Load() {
			t.Fatalf("mqtttest: publishing to %q: not acknowledged within %v (last error: %v)", topic, clientTimeout, lastErr)
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Close disconnects the subscriber and waits for its goroutines to end. It
// is called by t.Cleanup; calling it again does nothing.
func (s *Subscriber) Close() {
	if s.closed.Swap(true) {
		return
	}
	s.b.mu.Lock()
	delete(s.b.subs, s)
	s.b.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.cm.Disconnect(ctx)
	s.cancel()
	select {
	case <-s.cm.Done():
	case <-ctx.Done():
	}
	s.subWG.Wait()
}
