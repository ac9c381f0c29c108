package broker_test

import (
	"bytes"
	"context"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/iot-hub/agent/agent/broker"
)

// The broker never sends a client a message larger than the client's
// Maximum Packet Size, and drops it for good: a client that resumes its
// session gets the messages that fit, and stays connected.
func TestDropsMessagesTooLargeForTheClient(t *testing.T) {
	b, err := broker.Start(broker.Config{Settings: broker.Settings{Listen: "127.0.0.1:0"}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	pub, _ := client(t, b.Addr(), "pub")
	publish := func(payloads ...[]byte) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, p := range payloads {
			if _, err := pub.Publish(ctx, &paho.Publish{Topic: "cmd", QoS: 1, Payload: p}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// On topic cmd at QoS 1 without properties, a payload of n bytes makes
	// a packet of n+11: 1 type byte, 2 of Remaining Length, 2+3 of topic,
	// 2 of packet identifier, 1 of property length.
	const limit = 1024
	fits, tooLarge := bytes.Repeat([]byte("f"), limit-11), bytes.Repeat([]byte("x"), limit-10)

	sub := dialLimited(t, b.Addr(), limit, true, false)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := sub.c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "cmd", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	publish(tooLarge, []byte("online"))
	sub.expect(t, []byte("online"))
	sub.close()

	publish(fits, tooLarge, []byte("while away"))
	// mochi acknowledges a publisher before it has stored the message for
	// a session away: wait for it there, or the session resumed may miss
	// it (seen about twice in 3,000 runs).
	for deadline := time.Now().Add(5 * time.Second); !b.Holds("limited", []byte("while away")); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal(`the broker holds no "while away" for the session after 5 s`)
		}
	}
	sub = dialLimited(t, b.Addr(), limit, false, false)
	sub.received = [][]byte{[]byte("online")}
	sub.expect(t, fits, []byte("while away")) // mochi resends in no set order
	publish([]byte("after"))
	sub.expect(t, []byte("after"))
}

// A message that only its user properties take beyond the client's
// Maximum Packet Size is not too large: mochi sends it without them (its
// Properties.Encode leaves out user properties that do not fit). It stays
// in flight until the client acknowledges it, and comes again to a client
// that resumed its session without acknowledging it.
func TestKeepsInFlightMessagesSentWithoutTheirUserProperties(t *testing.T) {
	b, err := broker.Start(broker.Config{Settings: broker.Settings{Listen: "127.0.0.1:0"}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	pub, _ := client(t, b.Addr(), "pub")
	const limit = 1024
	sub := dialLimited(t, b.Addr(), limit, true, true)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := sub.c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "cmd", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	user := []paho.UserProperty{{Key: "pad", Value: strings.Repeat("u", 2*limit)}}
	if _, err := pub.Publish(ctx, &paho.Publish{Topic: "cmd", QoS: 1, Payload: []byte("p"), Properties: &paho.PublishProperties{User: user}}); err != nil {
		t.Fatal(err)
	}
	sub.expect(t, []byte("p")) // not acknowledged
	sub.close()

	sub = dialLimited(t, b.Addr(), limit, false, false)
	sub.expect(t, []byte("p"))
}

// limitedClient is an MQTT v5 client with a Maximum Packet Size and a
// session that outlives its connection. Like the agent's uplink it asks
// for problem information, without which mochi sends no user properties
// at all. With manualAck it acknowledges
// none of the messages it receives.
type limitedClient struct {
	c        *paho.Client
	msgs     chan *paho.Publish
	received [][]byte // the payloads a previous connection of the session took
}

func dialLimited(t *testing.T, addr string, limit uint32, cleanStart, manualAck bool) *limitedClient {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	lc := &limitedClient{msgs: make(chan *paho.Publish, 16)}
	lc.c = paho.NewClient(paho.ClientConfig{Conn: conn, EnableManualAcknowledgment: manualAck, OnPublishReceived: []func(paho.PublishReceived) (bool, error){
		func(pr paho.PublishReceived) (bool, error) { lc.msgs <- pr.Packet; return true, nil },
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	expiry := uint32(3600)
	if _, err := lc.c.Connect(ctx, &paho.Connect{ClientID: "limited", CleanStart: cleanStart, KeepAlive: 30,
		Properties: &paho.ConnectProperties{MaximumPacketSize: &limit, SessionExpiryInterval: &expiry, RequestProblemInfo: true}}); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(lc.close)
	return lc
}

// expect waits for the next messages, which must be payloads in any
// order. A message sent again (DUP) that the client received before
// (received) is let through: QoS 1 is at least once, and the client may
// close before its PUBACK reached the broker, which then resends it to the
// resumed session.
func (lc *limitedClient) expect(t *testing.T, payloads ...[]byte) {
	t.Helper()
	for len(payloads) > 0 {
		select {
		case m := <-lc.msgs:
			if m.Duplicate() && slices.ContainsFunc(lc.received, func(p []byte) bool { return bytes.Equal(p, m.Payload) }) {
				continue
			}
			i := slices.IndexFunc(payloads, func(p []byte) bool { return bytes.Equal(p, m.Payload) })
			if i < 0 {
				t.Fatalf("received %.20q (%d bytes); want one of %.20q", m.Payload, len(m.Payload), payloads)
			}
			payloads = slices.Delete(payloads, i, i+1)
		case <-lc.c.Done():
			t.Fatalf("the broker closed the connection; want %.20q", payloads)
		case <-time.After(5 * time.Second):
			t.Fatalf("no message within 5 s; want %.20q", payloads)
		}
	}
}

// close disconnects, leaving the session to the broker; once closed, it
// does nothing.
func (lc *limitedClient) close() {
	_ = lc.c.Disconnect(&paho.Disconnect{})
	<-lc.c.Done()
}
