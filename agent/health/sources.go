package health

import (
	"crypto/x509"

	"github.com/iot-hub/agent/agent/broker"
	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/agent/sensors"
	"github.com/iot-hub/agent/agent/uplink"
)

// Sources are the agent's parts the server reads at each request. A nil
// field means the agent has no such part: the reports leave it out.
type Sources struct {
	// Version is the agent's version, the label of iot_hub_agent_info.
	Version string
	// Uplink reports the uplink's connection.
	Uplink func() uplink.State
	// Outbox is the outbox.
	Outbox Outbox
	// Sensors are the sampler's sensors.
	Sensors Sensors
	// Certificate is the client certificate the uplink presents; nil
	// when it presents none.
	Certificate func() *x509.Certificate
	// Broker reports the embedded broker's clients and what became of
	// their messages; nil when the agent runs none.
	Broker func() broker.Stats
	// Commands answers POST /v1/rpc/{method}, the commands of callers on
	// the gateway (see rpc.go), for the device DeviceID, with bodies of at
	// most MaxCommandBytes; nil leaves the path out.
	Commands        Commands
	DeviceID        string
	MaxCommandBytes int
}

// Outbox is what the server reads of the outbox (*outbox.Store).
type Outbox interface {
	// Stats returns a snapshot of the store; its Err says when the file
	// could not be read.
	Stats() outbox.Stats
	// Uplinks returns each uplink's share of the store.
	Uplinks() []outbox.UplinkStats
}

// Sensors is what the server reads of the sampler (*sensors.Sampler).
type Sensors interface {
	// Status returns the status of every sensor when no name is given.
	Status(names ...string) ([]sensors.Status, error)
}
