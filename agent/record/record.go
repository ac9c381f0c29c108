// Package record makes the outbox record of a message of the contracts,
// the one way every component queues a message: keyed by the device id,
// with the headers eventType, correlationId and __version that both
// uplinks send (Kafka record headers, MQTT user properties).
package record

import (
	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/contracts"
)

// Head is what a record's headers repeat of its message's envelope.
type Head struct {
	EventType     contracts.EventType
	CorrelationID string
	// Version is the envelope's __version; "" is contracts.Version.
	Version string
}

// HeadOf returns the head of the envelope h.
func HeadOf(h *contracts.Envelope) Head {
	return Head{EventType: h.EventType, CorrelationID: h.CorrelationID, Version: h.Version}
}

// Of returns the record of payload, a message encoded, whose envelope
// says head: in lane, for topic, keyed by deviceID. transport are
// headers of the transport that is to carry it (the MQTT uplink's
// mqtt.*), put before the contracts' three.
func Of(lane outbox.Lane, topic, deviceID string, head Head, payload []byte, transport ...outbox.Header) outbox.Record {
	version := head.Version
	if version == "" {
		version = contracts.Version
	}
	hs := make([]outbox.Header, 0, len(transport)+3)
	hs = append(hs, transport...)
	hs = append(hs,
		outbox.Header{Key: contracts.HeaderEventType, Value: []byte(head.EventType)},
		outbox.Header{Key: contracts.HeaderCorrelationID, Value: []byte(head.CorrelationID)},
		outbox.Header{Key: contracts.HeaderVersion, Value: []byte(version)})
	return outbox.Record{Lane: lane, Topic: topic, Key: []byte(deviceID), Payload: payload, Headers: hs}
}
