package broker

import "bytes"

// Holds reports whether the broker holds, for the session of client id,
// a message in flight with payload: a test that resumes a session waits
// for what it published to be stored there first. (mochi acknowledges a
// publisher before it has handed the message to the subscribers; one
// handed over while the subscriber's session was being resumed was seen
// not to reach the resumed connection.)
func (b *Broker) Holds(id string, payload []byte) bool {
	cl, ok := b.srv.Clients.Get(id)
	if !ok {
		return false
	}
	for _, pk := range cl.State.Inflight.GetAll(false) {
		if bytes.Equal(pk.Payload, payload) {
			return true
		}
	}
	return false
}
