// Package uplink is what the agent's two uplinks, MQTT (uplink/mqtt) and
// Kafka (uplink/kafka), share with the rest of the agent: the [State] of
// their connection, which getDeviceState and /healthz report, and the
// [Command] each hands the RPC dispatcher for a message received on a
// commands topic (each uplink's own Command embeds it, with what its
// transport adds); and the [Settler] role both take of the outbox.
package uplink

import (
	"time"

	"github.com/iot-hub/agent/agent/outbox"
)

// State is an uplink's connection.
type State struct {
	// Connected is whether the uplink is connected: over MQTT, whether a
	// connection is up; with Kafka, whether the last exchange with a
	// broker went through (a request answered, as opposed to a connection
	// refused or lost).
	Connected bool
	// Since is when Connected last changed; zero if it never did.
	Since time.Time
	// Broker is the broker's URL, or the Kafka seed brokers,
	// comma-separated.
	Broker string
	// Reconnects counts the connections made after the first.
	Reconnects int
}

// Settler takes the outcome of the records an uplink took from the
// outbox (*outbox.Store): sent and acknowledged by the brokers (Ack), not
// sent, to be handed out again (Release), or refused for good
// (Quarantine).
type Settler interface {
	Ack(ids ...outbox.ID)
	Release(ids ...outbox.ID)
	Quarantine(id outbox.ID, reason string) error
}
