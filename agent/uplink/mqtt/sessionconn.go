package mqtt

import (
	"cmp"
	"io"
	"slices"

	"github.com/eclipse/paho.golang/packets"
)

// The session across connections: what a new connection sends again,
// what a lost one forgets.

// ConAckReceived starts a connection's use of the session. When the
// broker kept the session, the PUBLISHes and PUBRELs in flight are sent
// again, in the order they were first sent, the PUBLISHes marked DUP;
// when it has none for the client (it lost it, or it expired), the
// session forgets them: the publications are settled as unanswered, so
// the queue sends them again. Received messages not acknowledged yet are
// forgotten: the broker sends them again if it kept the session.
func (s *ackSession) ConAckReceived(conn io.Writer, cp *packets.Connect, ca *packets.Connack) error {
	s.inbox.reset()
	if err := s.server.ConAckReceived(conn, cp, ca); err != nil {
		return err
	}
	var forgotten []response
	defer func() { s.settleUnanswered(forgotten) }()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil {
		forgotten = s.lostLocked(nil)
	}
	if !ca.SessionPresent {
		forgotten = append(forgotten, s.forgetLocked(nil)...)
	}
	switch {
	case ca.Properties != nil && ca.Properties.SessionExpiryInterval != nil:
		s.expiry = *ca.Properties.SessionExpiryInterval
	case cp.Properties != nil && cp.Properties.SessionExpiryInterval != nil:
		s.expiry = *cp.Properties.SessionExpiryInterval
	default:
		s.expiry = 0
	}
	receiveMax := 65535 // MQTT v5 §3.2.2.3.3
	if ca.Properties != nil && ca.Properties.ReceiveMaximum != nil {
		receiveMax = int(*ca.Properties.ReceiveMaximum)
	}
	s.conn, s.lost = conn, make(chan struct{})
	// The send quota is not kept across connections (MQTT v5 §4.9); the
	// packets sent again count in it, and may take it below 0.
	s.quota = receiveMax
	again := make([]*flight, 0, len(s.flights))
	for _, f := range s.flights {
		again = append(again, f)
	}
	slices.SortFunc(again, func(a, b *flight) int { return cmp.Compare(a.seq, b.seq) })
	for _, f := range again {
		if pub, ok := f.packet.(*packets.Publish); ok {
			pub.Duplicate = true
		}
		s.quota--
		if _, err := f.packet.WriteTo(conn); err != nil {
			return err // paho drops the connection
		}
	}
	if s.quota > 0 && s.room != nil {
		close(s.room)
		s.room = nil
	}
	return nil
}

// ConnectionLost ends the connection's use of the session: the requests
// that are no part of the session state (SUBSCRIBE, UNSUBSCRIBE) end
// unanswered, and so does everything when the Session Expiry Interval is
// 0.
func (s *ackSession) ConnectionLost(dp *packets.Disconnect) error {
	s.mu.Lock()
	forgotten := s.lostLocked(dp)
	s.mu.Unlock()
	s.settleUnanswered(forgotten)
	return s.server.ConnectionLost(dp)
}

// lostLocked ends the connection, and returns the publications the
// session forgot.
func (s *ackSession) lostLocked(dp *packets.Disconnect) []response {
	if s.conn == nil {
		return nil
	}
	s.conn = nil
	close(s.lost)
	if dp != nil && dp.Properties != nil && dp.Properties.SessionExpiryInterval != nil {
		s.expiry = *dp.Properties.SessionExpiryInterval
	}
	if s.expiry == 0 {
		return s.forgetLocked(nil)
	}
	return s.forgetLocked(func(f *flight) bool { return f.kind != packets.PUBLISH && f.kind != packets.PUBREL })
}

// forgetLocked takes the flights that which picks (all when nil) out of
// the session: paho's requests get an empty packet, and the
// publications are returned.
func (s *ackSession) forgetLocked(which func(*flight) bool) []response {
	var forgotten []response
	for id, f := range s.flights {
		if which != nil && !which(f) {
			continue
		}
		delete(s.flights, id)
		if f.resp != nil {
			f.resp <- packets.ControlPacket{}
		} else {
			forgotten = append(forgotten, response{p: &f.p})
		}
	}
	return forgotten
}

// settleUnanswered settles publications the session forgot.
func (s *ackSession) settleUnanswered(rs []response) { s.settler.queue(rs) }

// Close forgets everything: paho's requests get an empty packet and the
// publications are settled as unanswered, to go out again. It returns
// once every response is settled.
func (s *ackSession) Close() error {
	s.mu.Lock()
	forgotten := s.lostLocked(nil)
	forgotten = append(forgotten, s.forgetLocked(nil)...)
	s.mu.Unlock()
	s.settleUnanswered(forgotten)
	s.settler.close()
	return s.server.Close()
}
