package mqtt

import (
	"sync"

	"github.com/eclipse/paho.golang/packets"
)

// inbox sends the PUBACKs of received commands once their handler says
// they are handled (Command.Ack), not when they arrive: a command the
// agent has not answered yet, when it crashes or the connection drops, is
// delivered again. MQTT wants PUBACKs in the order the PUBLISHes came, so
// an acknowledged command waits for the ones before it.
type inbox struct {
	send func(*packets.Publish) error // writes the PUBACK

	mu    sync.Mutex
	gen   uint64 // counts connections; a delivery belongs to one
	order []*delivery
}

// delivery is one received QoS 1 or 2 PUBLISH awaiting its PUBACK.
type delivery struct {
	gen  uint64
	pub  packets.Publish // the identifier and QoS are what an ack needs
	done bool
}

// receive records a PUBLISH as it arrives and returns the function that
// acknowledges it; calling that more than once does nothing more.
func (in *inbox) receive(id uint16, qos byte) func() {
	if qos == 0 {
		return func() {}
	}
	in.mu.Lock()
	d := &delivery{gen: in.gen, pub: packets.Publish{PacketID: id, QoS: qos}}
	in.order = append(in.order, d)
	in.mu.Unlock()
	return func() { in.ack(d) }
}

// ack marks d handled and sends every PUBACK now due, in order.
func (in *inbox) ack(d *delivery) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if d.gen != in.gen {
		return // its connection is gone: the broker sends it again
	}
	d.done = true
	n := 0
	for n < len(in.order) && in.order[n].done {
		// An error means the connection is lost; the reconnect resets.
		_ = in.send(&in.order[n].pub)
		n++
	}
	in.order = in.order[n:]
}

// reset forgets the deliveries of the connection that ended.
func (in *inbox) reset() {
	in.mu.Lock()
	in.gen++
	in.order = nil
	in.mu.Unlock()
}
