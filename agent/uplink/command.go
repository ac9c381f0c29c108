package uplink

import (
	"time"

	"github.com/iot-hub/agent/agent/outbox"
)

// Command is one message received for the device on a commands topic,
// with where its answer and its dead letter go: what an uplink hands on
// to the RPC dispatcher. The uplink that received it fills it in.
type Command struct {
	// Topic is the topic it came on.
	Topic string
	// Catalogue is the contracts' Kafka topic (contracts.Topic*) it came
	// on, for a transport that carries each type on its own topic: a
	// message whose eventType the catalogue puts on another topic
	// (contracts.EventType.Topic) is refused. Empty when one topic
	// carries every inbound type (MQTT's per-device commands topic).
	Catalogue string
	// Payload is the message body, as received.
	Payload []byte
	// Size is the message body's size as sent, when the uplink read only
	// the start of a body far too large (Payload, over MaxCommandBytes);
	// 0 means len(Payload).
	Size int
	// Expiry is when the transport says it expires (MQTT Message Expiry);
	// zero when it does not say.
	Expiry time.Time
	// ReceivedAt is when it was received; the answer's durationMs counts
	// from here.
	ReceivedAt time.Time
	// Reply is the topic of the answer (the MQTT v5 Response Topic, else
	// the device's responses topic), and ReplyHeaders go with it (the
	// Correlation Data, the content type).
	Reply        string
	ReplyHeaders []outbox.Header
	// DeadLetters is the topic of dead letters.
	DeadLetters string
	// Route is the outbox route of the uplink it came on (its
	// outbox.View's): its answer and its dead letter go out on that
	// uplink alone. The daemon sets it as it hands the command on; zero,
	// in a store of one uplink, is that uplink too.
	Route outbox.Route
	// Refusal, when set, says the uplink received the message in an old
	// format (Payload, as received) and could not convert it into a v1
	// command: the dispatcher refuses it. Nil for a message in v1, and
	// for one converted (Payload is then its v1 form).
	Refusal *Refusal
	// Ack tells the broker the message is handled; the dispatcher calls it
	// once the answer or the dead letter is in the outbox. Until then a
	// restart of the agent, or a new connection, gets the command delivered
	// again. Later calls do nothing. May be nil.
	Ack func()
	// Deliver, when set, makes the command a local caller's (the health
	// listener's POST /v1/rpc/{method}): its answer goes to Deliver, not
	// into the outbox for Reply, and Ack is not called. It is called
	// once, with the answer (nil when the command gets none, only a dead
	// letter), once the answer's memo and any dead letter are in the
	// outbox or could not be put there.
	Deliver func(answer []byte)
}

// Refusal is why an uplink could not convert a command it received in an
// old format (a legacy RPC command, package contracts/legacy) into a v1
// command.
type Refusal struct {
	// Err says what is wrong; it matches the sentinels of package
	// contracts (contracts.ErrMalformed, contracts.ErrUnknownMethod, ...).
	Err error
	// Method is the method the message named; "" when it named none,
	// and then it gets no answer, only a dead letter: the old formats
	// match an answer to its command by the method.
	Method string
	// CorrelationID is the correlationId of the answer: the old formats
	// have none, the uplink gives one.
	CorrelationID string
}

// BodySize is the message body's size as sent.
func (c *Command) BodySize() int { return max(len(c.Payload), c.Size) }

// Acknowledge calls Ack, when there is one.
func (c *Command) Acknowledge() {
	if c.Ack != nil {
		c.Ack()
	}
}

// Local reports whether the command is a local caller's (Deliver is set).
func (c *Command) Local() bool { return c.Deliver != nil }

// Answered settles the command once its answer (nil for none) has gone
// to the outbox, kept telling whether the outbox took it: a local caller
// is handed the answer either way; a broker's message is acknowledged
// when kept, and otherwise left unacknowledged, for the broker to
// deliver again.
func (c *Command) Answered(answer []byte, kept bool) {
	switch {
	case c.Deliver != nil:
		c.Deliver(answer)
	case kept:
		c.Acknowledge()
	}
}
