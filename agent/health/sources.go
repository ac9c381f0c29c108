package health

import (
	"crypto/x509"
	"time"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/agent/sensors"
)

// Sources are the agent's parts the server reads at each request. A nil
// field means the agent has no such part: the reports leave it out.
type Sources struct {
	// Version is the agent's version, the label of iot_hub_agent_info.
	Version string
	// Uplink reports the uplink's connection.
	Uplink func() UplinkState
	// Outbox is the outbox.
	Outbox Outbox
	// Sensors are the sampler's sensors.
	Sensors Sensors
	// Certificate is the client certificate the uplink presents; nil
	// when it presents none.
	Certificate func() *x509.Certificate
}

// UplinkState is the uplink's connection.
type UplinkState struct {
	// Connected is whether the uplink is connected.
	Connected bool
	// Since is when Connected last changed; zero if it never did.
	Since time.Time
	// Broker is the broker's URL, or the Kafka seed brokers.
	Broker string
	// Reconnects counts the connections made after the first.
	Reconnects int
}

// Outbox is what the server reads of the outbox (*outbox.Store).
type Outbox interface {
	// Stats returns a snapshot of the store; its Err says when the file
	// could not be read.
	Stats() outbox.Stats
}

// Sensors is what the server reads of the sampler (*sensors.Sampler).
type Sensors interface {
	// Status returns the status of every sensor when no name is given.
	Status(names ...string) ([]sensors.Status, error)
}
