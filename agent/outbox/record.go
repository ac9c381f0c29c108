package outbox

import (
	"strconv"
	"time"
)

// Lane is a queue inside the store. Lanes drain in order: every ready
// control record is handed out before any telemetry.
type Lane uint8

// Lanes.
const (
	// LaneControl carries RPC responses, status, certificate events and
	// dead letters. Its records are never dropped for space while live.
	LaneControl Lane = iota
	// LaneTelemetry carries sensor readings. When the store is full, the
	// oldest telemetry is dropped first.
	LaneTelemetry

	numLanes = 2
)

// String returns "control" or "telemetry".
func (l Lane) String() string {
	switch l {
	case LaneControl:
		return "control"
	case LaneTelemetry:
		return "telemetry"
	}
	return "Lane(" + strconv.Itoa(int(l)) + ")"
}

// Record is one message waiting to be published.
type Record struct {
	// Lane is the queue the record waits in.
	Lane Lane
	// Topic is where the uplink publishes it: an MQTT or a Kafka topic.
	Topic string
	// Key orders and partitions the record (the device id on Kafka); it
	// may be empty.
	Key []byte
	// Payload is the message itself.
	Payload []byte
	// Headers are published with the record (Kafka headers, MQTT user
	// properties).
	Headers []Header
	// Expiry, when not zero, is the instant after which the record is
	// dropped (and counted) instead of sent.
	Expiry time.Time
	// Retain asks an MQTT broker to keep the message for subscribers to
	// come (the device's status); other uplinks ignore it.
	Retain bool // Route is the uplinks that carry it; the zero Route is every uplink
	// the store's Routing sends the device's records on.
	Route Route
}

// Header is one header of a Record.
type Header struct {
	Key   string
	Value []byte
}

// ID identifies a stored record. IDs increase in append order across
// lanes, so within a lane they give the record order.
type ID uint64

// Entry is a record handed out by [Store.Next].
type Entry struct {
	// ID is what Ack, Release and Quarantine take.
	ID ID
	// AppendedAt is when Append stored the record.
	AppendedAt time.Time
	Record
}
