package mqtt

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho/session"

	"github.com/iot-hub/agent/agent/outbox"
)

// settled collects what an ackSession settles.
type settled chan response

func (c settled) settle(rs []response) {
	for _, r := range rs {
		c <- r
	}
}

// next returns the next response settled, failing after a second.
func (c settled) next(t *testing.T) response {
	t.Helper()
	select {
	case r := <-c:
		return r
	case <-time.After(time.Second):
		t.Fatal("no response settled within a second")
		return response{}
	}
}

// none checks that nothing more is settled.
func (c settled) none(t *testing.T) {
	t.Helper()
	select {
	case r := <-c:
		t.Fatalf("settled %+v; want nothing", r)
	case <-time.After(20 * time.Millisecond):
	}
}

// connect has s take a connection, as paho does on a CONNACK, with a
// Session Expiry Interval of expiry and the broker's Receive Maximum.
func connect(t *testing.T, s *ackSession, conn *bytes.Buffer, present bool, expiry uint32, receiveMax uint16) {
	t.Helper()
	cp := &packets.Connect{Properties: &packets.Properties{SessionExpiryInterval: &expiry}}
	ca := &packets.Connack{SessionPresent: present, Properties: &packets.Properties{ReceiveMaximum: &receiveMax}}
	if err := s.ConAckReceived(conn, cp, ca); err != nil {
		t.Fatal(err)
	}
}

// publishes reads the PUBLISHes written to conn.
func publishes(t *testing.T, conn *bytes.Buffer) []*packets.Publish {
	t.Helper()
	var out []*packets.Publish
	for conn.Len() > 0 {
		cp, err := packets.ReadPacket(conn)
		if err != nil {
			t.Fatal(err)
		}
		pub, ok := cp.Content.(*packets.Publish)
		if !ok {
			t.Fatalf("wrote %T; want PUBLISHes only", cp.Content)
		}
		out = append(out, pub)
	}
	return out
}

// connected returns a session on its first connection, to a broker
// without a session for it, and what it settles; it is closed when the
// test ends.
func connected(t *testing.T, expiry uint32, receiveMax uint16) (*ackSession, settled) {
	got := make(settled, 16)
	s := newAckSession(got.settle)
	t.Cleanup(func() { s.Close() })
	connect(t, s, new(bytes.Buffer), false, expiry, receiveMax)
	return s, got
}

func entry(id outbox.ID) publication { return publication{Entry: outbox.Entry{ID: id}} }

func newPublish(payload string) *publishPacket {
	return &publishPacket{topic: "t", payload: []byte(payload)}
}

// TestSessionPublishesWithinReceiveMaximum gives publications packet
// identifiers in turn, holds the one beyond the broker's Receive Maximum
// until a PUBACK frees a slot, and settles each by its PUBACK and reason
// code.
func TestSessionPublishesWithinReceiveMaximum(t *testing.T) {
	s, got := connected(t, 3600, 2)

	pubs := []*publishPacket{newPublish("a"), newPublish("b"), newPublish("c")}
	for i, pub := range pubs[:2] {
		if err := s.publish(context.Background(), pub, entry(outbox.ID(i+1))); err != nil {
			t.Fatal(err)
		}
	}
	if pubs[0].id != 1 || pubs[1].id != 2 {
		t.Fatalf("packet identifiers %d, %d; want 1, 2", pubs[0].id, pubs[1].id)
	}
	third := make(chan error, 1)
	go func() { third <- s.publish(context.Background(), pubs[2], entry(3)) }()
	select {
	case err := <-third:
		t.Fatalf("third publish returned (%v) with the Receive Maximum of 2 reached", err)
	case <-time.After(20 * time.Millisecond):
	}

	s.pubacks([]pubAck{{id: 1}})
	if err := <-third; err != nil {
		t.Fatal(err)
	}
	if r := got.next(t); r.p.ID != 1 || !r.answered || r.reason != 0 {
		t.Errorf("settled %+v; want entry 1 acknowledged", r)
	}
	s.pubacks([]pubAck{{id: 2, reason: 0x97}, {id: 3}, {id: 99}}) // 99: no such flight
	if r := got.next(t); r.p.ID != 2 || !r.answered || r.reason != 0x97 {
		t.Errorf("settled %+v; want entry 2 refused with 0x97", r)
	}
	if r := got.next(t); r.p.ID != 3 || !r.answered {
		t.Errorf("settled %+v; want entry 3 acknowledged", r)
	}
	got.none(t)
}

// TestSessionSendsInFlightAgainOnReconnect: after a lost connection, a
// broker that kept the session gets the PUBLISHes in flight again, in the
// order first sent, marked DUP; one that lost it has them forgotten,
// settled unanswered for the queue to publish again. A publish waiting
// for a slot when the connection goes fails with ErrNoConnection.
func TestSessionSendsInFlightAgainOnReconnect(t *testing.T) {
	s, got := connected(t, 3600, 3)
	for i, payload := range []string{"a", "b", "c"} {
		if err := s.publish(context.Background(), newPublish(payload), entry(outbox.ID(i+1))); err != nil {
			t.Fatal(err)
		}
	}
	s.pubacks([]pubAck{{id: 2}})
	got.next(t)
	if err := s.publish(context.Background(), newPublish("d"), entry(4)); err != nil {
		t.Fatal(err)
	}
	waiting := make(chan error, 1)
	go func() { waiting <- s.publish(context.Background(), newPublish("e"), entry(5)) }()
	time.Sleep(20 * time.Millisecond)

	if err := s.ConnectionLost(nil); err != nil {
		t.Fatal(err)
	}
	if err := <-waiting; !errors.Is(err, session.ErrNoConnection) {
		t.Errorf("publish waiting as the connection went: %v; want ErrNoConnection", err)
	}
	if err := s.publish(context.Background(), newPublish("f"), entry(6)); !errors.Is(err, session.ErrNoConnection) {
		t.Errorf("publish while disconnected: %v; want ErrNoConnection", err)
	}
	got.none(t) // the session outlives the connection

	var again bytes.Buffer
	connect(t, s, &again, true, 3600, 3)
	var payloads string
	for _, pub := range publishes(t, &again) {
		if !pub.Duplicate {
			t.Errorf("PUBLISH %d sent again without DUP", pub.PacketID)
		}
		payloads += string(pub.Payload)
	}
	if payloads != "acd" {
		t.Errorf("sent again %q; want the three in flight, in order: %q", payloads, "acd")
	}
	// They count in the Receive Maximum of 3: the next waits.
	blocked := make(chan error, 1)
	go func() { blocked <- s.publish(context.Background(), newPublish("g"), entry(7)) }()
	select {
	case err := <-blocked:
		t.Fatalf("publish returned (%v) with 3 in flight and a Receive Maximum of 3", err)
	case <-time.After(20 * time.Millisecond):
	}

	var fresh bytes.Buffer
	s.ConnectionLost(nil)
	if err := <-blocked; !errors.Is(err, session.ErrNoConnection) {
		t.Fatalf("blocked publish: %v; want ErrNoConnection", err)
	}
	connect(t, s, &fresh, false, 3600, 3)
	if fresh.Len() != 0 {
		t.Errorf("sent %d bytes to a broker without the session; want none", fresh.Len())
	}
	forgotten := map[outbox.ID]bool{}
	for range 3 {
		r := got.next(t)
		if r.answered {
			t.Errorf("forgotten entry %d settled as answered", r.p.ID)
		}
		forgotten[r.p.ID] = true
	}
	if !forgotten[1] || !forgotten[3] || !forgotten[4] {
		t.Errorf("forgotten %v; want entries 1, 3 and 4", forgotten)
	}
	got.none(t)
}

// TestSessionWithoutExpiryForgetsOnLoss: with a Session Expiry Interval
// of 0 the session ends with the connection.
func TestSessionWithoutExpiryForgetsOnLoss(t *testing.T) {
	s, got := connected(t, 0, 10)
	if err := s.publish(context.Background(), newPublish("a"), entry(1)); err != nil {
		t.Fatal(err)
	}
	s.ConnectionLost(nil)
	if r := got.next(t); r.p.ID != 1 || r.answered {
		t.Errorf("settled %+v; want entry 1 unanswered", r)
	}
}

// TestSessionAnswersPahosRequests: paho's own requests get their
// responses on their channels; a SUBSCRIBE in flight when the connection
// goes gets an empty packet (it is no part of the session state), and a
// PUBACK with properties, left to paho, settles a publication with its
// reason string.
func TestSessionAnswersPahosRequests(t *testing.T) {
	s, got := connected(t, 3600, 10)

	sub := &packets.Subscribe{Properties: &packets.Properties{}}
	subResp := make(chan packets.ControlPacket, 1)
	if err := s.AddToSession(context.Background(), sub, subResp); err != nil {
		t.Fatal(err)
	}
	pub := &packets.Publish{QoS: 1, Topic: "status", Properties: &packets.Properties{}}
	pubResp := make(chan packets.ControlPacket, 1)
	if err := s.AddToSession(context.Background(), pub, pubResp); err != nil {
		t.Fatal(err)
	}
	suback := &packets.ControlPacket{FixedHeader: packets.FixedHeader{Type: packets.SUBACK}, Content: &packets.Suback{PacketID: sub.PacketID}}
	if err := s.PacketReceived(suback, nil); err != nil {
		t.Fatal(err)
	}
	if cp := <-subResp; cp.Type != packets.SUBACK {
		t.Errorf("SUBSCRIBE answered with %v; want its SUBACK", cp.Type)
	}
	s.pubacks([]pubAck{{id: pub.PacketID}})
	if cp := <-pubResp; cp.Type != packets.PUBACK || cp.PacketID() != pub.PacketID {
		t.Errorf("paho's PUBLISH answered with %v %d; want its PUBACK", cp.Type, cp.PacketID())
	}

	mine := newPublish("record")
	if err := s.publish(context.Background(), mine, entry(1)); err != nil {
		t.Fatal(err)
	}
	refusal := &packets.ControlPacket{FixedHeader: packets.FixedHeader{Type: packets.PUBACK},
		Content: &packets.Puback{PacketID: mine.id, ReasonCode: 0x99, Properties: &packets.Properties{ReasonString: "bad payload"}}}
	if err := s.PacketReceived(refusal, nil); err != nil {
		t.Fatal(err)
	}
	if r := got.next(t); r.p.ID != 1 || r.reason != 0x99 || r.reasonString != "bad payload" {
		t.Errorf("settled %+v; want entry 1 refused with 0x99, bad payload", r)
	}

	again := &packets.Subscribe{Properties: &packets.Properties{}}
	againResp := make(chan packets.ControlPacket, 1)
	if err := s.AddToSession(context.Background(), again, againResp); err != nil {
		t.Fatal(err)
	}
	s.ConnectionLost(nil)
	if cp := <-againResp; cp.Type != 0 {
		t.Errorf("SUBSCRIBE in flight at a loss answered with %v; want an empty packet", cp.Type)
	}
	if err := s.AddToSession(context.Background(), &packets.Subscribe{}, make(chan packets.ControlPacket, 1)); !errors.Is(err, session.ErrNoConnection) {
		t.Errorf("SUBSCRIBE while disconnected: %v; want ErrNoConnection", err)
	}
}

// TestSessionCloseSettlesWhatIsInFlight: a stopped uplink gives its
// publications back, to go out on the next start.
func TestSessionCloseSettlesWhatIsInFlight(t *testing.T) {
	got := make(settled, 16)
	s := newAckSession(got.settle)
	var conn bytes.Buffer
	connect(t, s, &conn, false, 3600, 10)
	if err := s.publish(context.Background(), newPublish("a"), entry(1)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if r := got.next(t); r.p.ID != 1 || r.answered {
		t.Errorf("settled %+v; want entry 1 unanswered", r)
	}
}
