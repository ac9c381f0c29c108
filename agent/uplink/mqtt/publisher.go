package mqtt

import (
	"context"
	"errors"
	"io"
	"strconv"
	"time"

	"github.com/eclipse/paho.golang/autopaho/queue"
	"github.com/eclipse/paho.golang/paho/session"
)

// The uplink writes its PUBLISHes itself, onto the connection it dialed,
// from one goroutine per connection: publish, started by onUp once the
// broker accepted the connection (and paho sent again what the session
// had in flight), stopped by onDown before the next connection is made,
// so that no two ever write at once and the order of the outbox holds
// across reconnects.
//
// For each publication it does what paho's Client.PublishWithOptions does
// for a QoS 1 publish with PublishMethod_AsyncSend: it stores the PUBLISH
// in the session, which gives it its packet identifier and keeps it to
// send again after a reconnect, then writes it. autopaho keeps the paho
// client to itself, and its publish queue would have each PUBLISH
// serialized and parsed back (packets.ReadPacket) on its way; the
// session and the connection are the uplink's own (ackSession, batchConn),
// so it writes the PUBLISH built from the entry (Uplink.packet), its
// payload the outbox's slice. autopaho keeps the rest: connecting,
// reconnecting, the keepalive, reading, SUBSCRIBE, the stopped status.
// paho's pinger does not hear of these writes (PublishWithOptions tells
// it, PacketSent): while the uplink publishes it still sends a PINGREQ
// every KeepAlive, a few bytes.

// retryWait is how long the publisher waits before it tries again to
// store a PUBLISH the session refused for a reason other than a lost
// connection (it ran out of packet identifiers), as autopaho's queue did.
const retryWait = time.Second

// maxRemainingLength is the largest Remaining Length of an MQTT packet
// (MQTT v5 §1.5.5): a PUBLISH is at most about 256 MiB.
const maxRemainingLength = 268_435_455

// maxString is the longest string MQTT encodes (§1.5.4), in bytes.
const maxString = 65_535

// unsendable says why a PUBLISH cannot be sent, or "": the outbox takes
// records of any size, with topics and headers of any length.
func (p *publishPacket) unsendable() string {
	if len(p.topic) > maxString {
		return "its topic is longer than an MQTT string can be (65,535 bytes)"
	}
	for _, h := range p.headers {
		if len(h.Key) > maxString || len(h.Value) > maxString {
			return "its header " + strconv.Quote(h.Key[:min(len(h.Key), 64)]) + " is longer than an MQTT string can be (65,535 bytes)"
		}
	}
	if p.tooLarge() {
		return "the record is larger than an MQTT packet can be (256 MiB)"
	}
	return ""
}

// publish writes the queue's publications onto conn, in order, until ctx
// ends or the connection is lost. It sends what conn has buffered
// whenever it has nothing more to write.
//
// paho's checks of a publish against the CONNACK (Maximum QoS, Retain
// Available) are left out: a broker that accepted the CONNECT, with its
// QoS 1 retained Last Will, takes QoS 1 and retained messages (MQTT v5
// §3.2.2.3.4, §3.2.2.3.5). The outbox refuses a record without a topic.
func (u *Uplink) publish(ctx context.Context, q *outboxQueue, sess *ackSession, conn *batchConn) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-q.wait():
		}
		for {
			p, ok := q.next()
			if !ok {
				conn.Flush()
				break
			}
			pub := u.packet(p.Entry)
			if why := pub.unsendable(); why != "" {
				u.lines.Error("unsendable", "mqtt: record cannot be an MQTT packet; quarantined", "topic", p.Topic[:min(len(p.Topic), 256)], "payloadBytes", len(p.Payload), "why", why)
				q.quarantine(p, why)
				continue
			}
			if err := sess.publish(ctx, pub, p); err != nil {
				q.putBack(p)
				if ctx.Err() != nil || errors.Is(err, session.ErrNoConnection) {
					return // the connection is going: the next one goes on
				}
				u.lines.Error("session", "mqtt: store a publish in the session", "err", err)
				select {
				case <-ctx.Done():
					return
				case <-time.After(retryWait):
				}
				continue
			}
			// From here the PUBLISH is in the session: it sends it again
			// on the next connection if this write fails.
			if err := conn.writePublish(pub); err != nil {
				return
			}
		}
	}
}

// idleQueue is autopaho's publish queue, which the uplink leaves empty:
// records come from the outbox, through the publisher. Without it
// autopaho would make one in memory.
type idleQueue struct{}

var _ queue.Queue = idleQueue{}

// Wait returns a channel that is never closed: there is never anything
// to publish.
func (idleQueue) Wait() chan struct{} { return nil }

// Enqueue refuses: records enter through the outbox.
func (idleQueue) Enqueue(io.Reader) error {
	return errors.New("mqtt: publish through the outbox, not the queue")
}

// Peek: there is never an entry.
func (idleQueue) Peek() (queue.Entry, error) { return nil, queue.ErrEmpty }
