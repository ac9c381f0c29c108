package mqtt

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho/session"
	"github.com/eclipse/paho.golang/paho/session/state"
	"github.com/eclipse/paho.golang/paho/store/memory"
)

// ackSession is paho's session state with one addition: publish stores
// a PUBLISH of the uplink's own, and hands its response to the function
// given there. The responses of all those publishes come on one channel,
// read by one goroutine, and are told apart by packet identifier. paho's
// own requests (SUBSCRIBE, the stopped status) go through the session as
// paho makes them.
//
// It also holds back the PUBACKs of received messages until their handler
// acknowledges them (see inbox).
type ackSession struct {
	*state.State
	acks  chan packets.ControlPacket
	done  chan struct{}
	inbox inbox

	mu      sync.Mutex
	waiting map[uint16]func(packets.ControlPacket) // by packet identifier
}

var _ session.SessionManager = (*ackSession)(nil)

// newAckSession returns a session for up to window publishes in flight;
// stop it with close.
func newAckSession(window int) *ackSession {
	s := &ackSession{
		State:   state.New(newLazyStore(), memory.New()),
		acks:    make(chan packets.ControlPacket, window),
		done:    make(chan struct{}),
		waiting: make(map[uint16]func(packets.ControlPacket)),
	}
	s.inbox.send = s.State.Ack
	go s.route()
	return s
}

// Ack is paho's call to acknowledge a received PUBLISH once its handlers
// returned: ignored, as the inbox acknowledges when the command is
// handled.
func (s *ackSession) Ack(*packets.Publish) error { return nil }

// close stops routing responses.
func (s *ackSession) close() { close(s.done) }

// publish stores pub in the session, which gives it its packet
// identifier, and has settle called with its response: the PUBACK, or
// the empty packet of a session that ended without one. It waits while
// the broker's Receive Maximum is reached, until ctx ends. Once it
// returns nil, pub is the session's: written now by the caller, and again
// by paho on every reconnect until its response comes. It fails with
// session.ErrNoConnection when the connection is gone.
func (s *ackSession) publish(ctx context.Context, pub *packets.Publish, settle func(packets.ControlPacket)) error {
	if err := s.State.AddToSession(ctx, pub, s.acks); err != nil {
		return err
	}
	// The response cannot come before the caller has written the
	// packet, after this returns.
	s.mu.Lock()
	s.waiting[pub.PacketID] = settle
	s.mu.Unlock()
	return nil
}

// ConAckReceived starts a connection's use of the session. Received
// messages not acknowledged yet are forgotten: the broker sends them
// again on this connection if it kept the session. When the
// broker has no session for the client (it lost it, or it expired), paho
// forgets the publishes in flight without answering them: they are
// settled here as unanswered first, so the queue sends them again.
func (s *ackSession) ConAckReceived(conn io.Writer, cp *packets.Connect, ca *packets.Connack) error {
	s.inbox.reset()
	if !ca.SessionPresent {
		s.mu.Lock()
		ws := s.waiting
		s.waiting = make(map[uint16]func(packets.ControlPacket))
		s.mu.Unlock()
		for _, settle := range ws {
			settle(packets.ControlPacket{})
		}
	}
	return s.State.ConAckReceived(conn, cp, ca)
}

// route settles each response. paho answers a session that ends with
// empty packets, one per PUBLISH in it, without identifiers: the first
// ends every flight.
//
// paho gives identifiers round-robin, so one comes back only 65,535
// publishes later; a response waiting here holds its window slot, and
// with it every later one, so no identifier is given again before its
// response has been routed.
func (s *ackSession) route() {
	for {
		select {
		case cp := <-s.acks:
			s.mu.Lock()
			var settles []func(packets.ControlPacket)
			if cp.Type == 0 {
				for id, settle := range s.waiting {
					settles = append(settles, settle)
					delete(s.waiting, id)
				}
			} else if settle, ok := s.waiting[cp.PacketID()]; ok {
				settles = append(settles, settle)
				delete(s.waiting, cp.PacketID())
			}
			s.mu.Unlock()
			for _, settle := range settles {
				settle(cp)
			}
		case <-s.done:
			return
		}
	}
}

// lazyStore is paho's in-memory store of the publishes in flight, without
// the copy: it keeps each packet as given and serializes it only when
// paho reads it back, to send again after a reconnect.
type lazyStore struct {
	mu   sync.Mutex
	seq  int
	data map[uint16]lazyPacket
}

type lazyPacket struct {
	seq int
	p   io.WriterTo
}

func newLazyStore() *lazyStore { return &lazyStore{data: make(map[uint16]lazyPacket)} }

// Put keeps the packet.
func (m *lazyStore) Put(id uint16, _ byte, p io.WriterTo) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.data[id] = lazyPacket{seq: m.seq, p: p}
	m.seq++
	return nil
}

// Get serializes a kept packet.
func (m *lazyStore) Get(id uint16) (io.ReadCloser, error) {
	m.mu.Lock()
	d, ok := m.data[id]
	m.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("mqtt: session: packet %d: %w", id, memory.ErrNotInStore)
	}
	var b bytes.Buffer
	if _, err := d.p.WriteTo(&b); err != nil {
		return nil, err
	}
	return io.NopCloser(&b), nil
}

// Delete forgets a packet.
func (m *lazyStore) Delete(id uint16) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.data[id]; !ok {
		return fmt.Errorf("mqtt: session: delete packet %d: %w", id, memory.ErrNotInStore)
	}
	delete(m.data, id)
	return nil
}

// Quarantine forgets a packet paho found damaged.
func (m *lazyStore) Quarantine(id uint16) error { return m.Delete(id) }

// List returns the identifiers in the order they were put.
func (m *lazyStore) List() ([]uint16, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ids := make([]uint16, 0, len(m.data))
	for id := range m.data {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b uint16) int { return cmp.Compare(m.data[a].seq, m.data[b].seq) })
	return ids, nil
}

// Reset forgets every packet.
func (m *lazyStore) Reset() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	clear(m.data)
	return nil
}
