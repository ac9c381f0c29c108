package mqtt

import (
	"context"
	"io"
	"sync"

	"github.com/eclipse/paho.golang/packets"
	paholog "github.com/eclipse/paho.golang/paho/log"
	"github.com/eclipse/paho.golang/paho/session"
	"github.com/eclipse/paho.golang/paho/session/state"
	"github.com/eclipse/paho.golang/paho/store/memory"
)

// ackSession is the MQTT session state of the uplink's connections, the
// session.SessionManager autopaho's client keeps:
//
//   - The client side, what the agent sends: the packet identifiers, the
//     broker's Receive Maximum, the PUBLISHes in flight, sent again on a
//     reconnect to a session the broker kept, and their responses. The
//     queue's publications (publish) cost no goroutine and no channel
//     each: their PUBACKs, taken off the connection by packetLimit, are
//     settled in batches (pubacks, then settle). paho's own requests
//     (SUBSCRIBE, the stopped status) get their response on their
//     channel, as from paho's State.
//   - The server side, the broker's QoS 1 and 2 PUBLISHes (commands):
//     paho's State, which never holds a packet of the client's here.
//
// paho's State did the client side too, with a goroutine, a context and
// three map entries for every PUBLISH and a channel between each PUBACK
// and its settling: a third of the agent's CPU in a drain.
//
// It also holds back the PUBACKs of received messages until their handler
// acknowledges them (see inbox).
type ackSession struct {
	server  *state.State
	inbox   inbox
	settler settler

	mu      sync.Mutex
	conn    io.Writer     // nil while disconnected
	lost    chan struct{} // closed when the connection is lost
	expiry  uint32        // the Session Expiry Interval in force
	quota   int           // PUBLISHes the broker takes before it answers one
	room    chan struct{} // closed when quota comes above 0; nil when none waits
	lastID  uint16
	seq     uint64
	flights map[uint16]*flight // by packet identifier
}

var _ session.SessionManager = (*ackSession)(nil)

// flight is a packet of the client's awaiting its response.
type flight struct {
	seq  uint64 // the order the PUBLISHes are sent again in
	kind byte   // PUBLISH, PUBREL (a QoS 2 PUBLISH after its PUBREC), SUBSCRIBE or UNSUBSCRIBE
	// packet is what is sent again on a reconnect: the PUBLISH, or the
	// PUBREL.
	packet io.WriterTo
	resp   chan<- packets.ControlPacket // paho's request's; nil for a publication
	p      publication                  // the queue's publication
}

// response is a publication with its outcome: answered by a PUBACK, of
// reason code reason, or not (the session ended without one).
type response struct {
	p            *publication
	answered     bool
	reason       byte
	reasonString string
}

// pubAck is a PUBACK without properties, as packetLimit reads it.
type pubAck struct {
	id     uint16
	reason byte
}

// newAckSession returns a session that hands the responses of its
// publications to settle; close it when the uplink stops.
func newAckSession(settle func([]response)) *ackSession {
	s := &ackSession{
		server:  state.New(memory.New(), memory.New()),
		settler: settler{bell: make(chan struct{}, 1), done: make(chan struct{}), ended: make(chan struct{})},
		flights: make(map[uint16]*flight),
	}
	s.inbox.send = s.server.Ack
	go s.settler.run(settle)
	return s
}

// publish stores pub, the PUBLISH of p, in the session, which gives it
// its packet identifier, and has p settled with its response. It waits
// while the broker's Receive Maximum is reached, until ctx ends. Once it
// returns nil, pub is the session's: written now by the caller, and
// again on every reconnect until its response comes. It fails with
// session.ErrNoConnection when the connection is gone.
func (s *ackSession) publish(ctx context.Context, pub *publishPacket, p publication) error {
	if err := s.acquire(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	id, err := s.nextIDLocked()
	if err != nil {
		s.releaseLocked()
		return err
	}
	pub.id = id
	s.seq++
	s.flights[id] = &flight{seq: s.seq, kind: packets.PUBLISH, packet: pub, p: p}
	return nil
}

// AddToSession stores one of paho's requests (a SUBSCRIBE, a QoS 1
// PUBLISH) and gives it its packet identifier; resp gets its response,
// or an empty packet if the session forgets it.
func (s *ackSession) AddToSession(ctx context.Context, packet session.Packet, resp chan<- packets.ControlPacket) error {
	kind := packet.Type()
	if kind == packets.PUBLISH {
		if err := s.acquire(ctx); err != nil {
			return err
		}
	} else {
		s.mu.Lock()
		if s.conn == nil {
			s.mu.Unlock()
			return session.ErrNoConnection
		}
	}
	defer s.mu.Unlock()
	id, err := s.nextIDLocked()
	if err != nil {
		if kind == packets.PUBLISH {
			s.releaseLocked()
		}
		return err
	}
	packet.SetIdentifier(id)
	s.seq++
	s.flights[id] = &flight{seq: s.seq, kind: kind, packet: packet, resp: resp}
	return nil
}

// acquire takes a slot of the broker's Receive Maximum, waiting for one
// until ctx ends or the connection is lost. It returns with s.mu held
// when it took one.
func (s *ackSession) acquire(ctx context.Context) error {
	s.mu.Lock()
	for {
		if s.conn == nil {
			s.mu.Unlock()
			return session.ErrNoConnection
		}
		if s.quota > 0 {
			s.quota--
			return nil
		}
		if s.room == nil {
			s.room = make(chan struct{})
		}
		room, lost := s.room, s.lost
		s.mu.Unlock()
		select {
		case <-room:
		case <-lost:
		case <-ctx.Done():
			return ctx.Err()
		}
		s.mu.Lock()
	}
}

// releaseLocked gives a slot of the Receive Maximum back.
func (s *ackSession) releaseLocked() {
	s.quota++
	if s.quota > 0 && s.room != nil {
		close(s.room)
		s.room = nil
	}
}

// nextIDLocked gives the next free packet identifier after the last,
// round-robin, so that one comes back only 65,535 later.
func (s *ackSession) nextIDLocked() (uint16, error) {
	for range 65535 {
		s.lastID++
		if s.lastID == 0 {
			s.lastID = 1
		}
		if _, busy := s.flights[s.lastID]; !busy {
			return s.lastID, nil
		}
	}
	return 0, session.ErrPacketIdentifiersExhausted
}

// pubacks settles the flights the PUBACKs answer, in one batch.
func (s *ackSession) pubacks(acks []pubAck) {
	var buf [64]response
	rs := buf[:0]
	s.mu.Lock()
	for _, a := range acks {
		f, ok := s.endLocked(a.id, packets.PUBLISH)
		switch {
		case !ok:
		case f.resp == nil:
			rs = append(rs, response{p: &f.p, answered: true, reason: a.reason})
		default:
			f.resp <- packets.ControlPacket{FixedHeader: packets.FixedHeader{Type: packets.PUBACK},
				Content: &packets.Puback{PacketID: a.id, ReasonCode: a.reason, Properties: &packets.Properties{}}}
		}
	}
	s.mu.Unlock()
	s.settler.queue(rs)
}

// endLocked takes the flight of id out of the session when it is one of
// kind, freeing its Receive Maximum slot if it takes one.
func (s *ackSession) endLocked(id uint16, kind byte) (*flight, bool) {
	f, ok := s.flights[id]
	if !ok || f.kind != kind {
		return nil, false
	}
	delete(s.flights, id)
	if f.kind == packets.PUBLISH || f.kind == packets.PUBREL {
		s.releaseLocked()
	}
	return f, true
}

// PacketReceived takes the broker's responses to the client's packets and
// passes the broker's PUBLISHes and PUBRELs to paho's State.
func (s *ackSession) PacketReceived(cp *packets.ControlPacket, pubChan chan<- *packets.Publish) error {
	var kind byte
	switch p := cp.Content.(type) {
	case *packets.Puback:
		s.pubackWithProperties(p)
		return nil
	case *packets.Pubrec:
		return s.pubrec(p, cp)
	case *packets.Pubcomp:
		kind = packets.PUBREL
	case *packets.Suback:
		kind = packets.SUBSCRIBE
	case *packets.Unsuback:
		kind = packets.UNSUBSCRIBE
	default: // the broker's PUBLISH or PUBREL
		return s.server.PacketReceived(cp, pubChan)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.endLocked(cp.PacketID(), kind); ok && f.resp != nil {
		f.resp <- *cp
	}
	return nil
}

// pubackWithProperties settles the flight a PUBACK that packetLimit
// left to paho answers: one with a reason string or user properties.
func (s *ackSession) pubackWithProperties(p *packets.Puback) {
	s.mu.Lock()
	f, ok := s.endLocked(p.PacketID, packets.PUBLISH)
	if ok && f.resp != nil {
		f.resp <- packets.ControlPacket{FixedHeader: packets.FixedHeader{Type: packets.PUBACK}, Content: p}
	}
	s.mu.Unlock()
	if ok && f.resp == nil {
		r := response{p: &f.p, answered: true, reason: p.ReasonCode}
		if p.Properties != nil {
			r.reasonString = p.Properties.ReasonString
		}
		s.settler.queue([]response{r})
	}
}

// pubrec answers the PUBREC of a QoS 2 PUBLISH of paho's with its PUBREL,
// which then takes the PUBLISH's place in the session, or ends the flight
// on a failure. The uplink itself publishes at QoS 1.
func (s *ackSession) pubrec(p *packets.Pubrec, cp *packets.ControlPacket) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.flights[p.PacketID]
	if !ok || f.kind != packets.PUBLISH {
		rel := &packets.Pubrel{PacketID: p.PacketID, ReasonCode: 0x92} // Packet Identifier not found
		return s.writeLocked(rel)
	}
	if p.ReasonCode >= 0x80 {
		if f, ok := s.endLocked(p.PacketID, packets.PUBLISH); ok && f.resp != nil {
			f.resp <- *cp
		}
		return nil
	}
	rel := &packets.Pubrel{PacketID: p.PacketID}
	f.kind, f.packet = packets.PUBREL, rel
	return s.writeLocked(rel)
}

// writeLocked writes a packet of the session's own onto the connection,
// if there is one.
func (s *ackSession) writeLocked(p io.WriterTo) error {
	if s.conn == nil {
		return nil // sent again on the next connection, or not needed
	}
	_, err := p.WriteTo(s.conn)
	return err
}

// Ack is paho's call to acknowledge a received PUBLISH once its handlers
// returned: ignored, as the inbox acknowledges when the command is
// handled.
func (s *ackSession) Ack(*packets.Publish) error { return nil }

// SetErrorLogger sets the logger of paho's State for the server side.
func (s *ackSession) SetErrorLogger(l paholog.Logger) { s.server.SetErrorLogger(l) }

// SetDebugLogger sets the logger of paho's State for the server side.
func (s *ackSession) SetDebugLogger(l paholog.Logger) { s.server.SetDebugLogger(l) }
