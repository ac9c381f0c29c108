package kafka

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unsafe"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/contracts"
)

// transportPrefix starts the outbox header keys that belong to another
// transport (the MQTT uplink's "mqtt.correlation-data" and
// "mqtt.content-type"); they are not sent to Kafka.
const transportPrefix = "mqtt."

// record builds the Kafka record of an outbox entry: its topic is the
// configured name of the contracts' topic of its eventType header (Record.Topic, an MQTT topic
// for the other uplink, is ignored); its key is the entry's, or the device
// id when it has none; its headers are the entry's, but for other
// transports' ones, with __version added when missing. When the entry
// cannot make a record that Kafka would take, it returns the reason
// instead, and the entry is to be quarantined.
//
// Headers that need no change are the entry's own, in its memory;
// otherwise they are appended to hs, which must have room for
// len(e.Headers)+3 (headerRoom), and record returns hs with them (nil
// when it appended none).
//
// An entry without an eventType header (queued by an older agent, or by
// the MQTT uplink for its status) is read as a contract envelope, whose
// eventType, correlationId and __version then become its headers.
func (u *Uplink) record(e *outbox.Entry, hs []kgo.RecordHeader) (kgo.Record, []kgo.RecordHeader, string) {
	var eventType []byte
	var hasVersion, foreign bool
	for _, h := range e.Headers {
		switch {
		case strings.HasPrefix(h.Key, transportPrefix):
			foreign = true
		case h.Key == contracts.HeaderEventType:
			eventType = h.Value
		case h.Key == contracts.HeaderVersion:
			hasVersion = true
		}
	}
	var headers []kgo.RecordHeader
	if eventType == nil || !hasVersion || foreign {
		for _, h := range e.Headers {
			if !strings.HasPrefix(h.Key, transportPrefix) {
				hs = append(hs, kgo.RecordHeader(h))
			}
		}
		if eventType == nil {
			env, ok := envelopeOf(e.Payload)
			if !ok || env.EventType == "" {
				return kgo.Record{}, nil, "record has no eventType header, and its payload is not a contract envelope with an eventType"
			}
			eventType = []byte(env.EventType)
			hs = append(hs, kgo.RecordHeader{Key: contracts.HeaderEventType, Value: eventType})
			if env.CorrelationID != "" {
				hs = append(hs, kgo.RecordHeader{Key: contracts.HeaderCorrelationID, Value: []byte(env.CorrelationID)})
			}
			if env.Version != "" {
				hs = append(hs, kgo.RecordHeader{Key: contracts.HeaderVersion, Value: []byte(env.Version)})
				hasVersion = true
			}
		}
		if !hasVersion {
			hs = append(hs, kgo.RecordHeader{Key: contracts.HeaderVersion, Value: []byte(contracts.Version)})
		}
		headers = hs
	} else {
		headers, hs = recordHeaders(e.Headers), nil
	}
	topic := u.topicOf(eventType)
	if topic == "" {
		return kgo.Record{}, nil, fmt.Sprintf("eventType %q is not in the contracts' catalogue: no Kafka topic for it", eventType)
	}
	key := e.Key
	if len(key) == 0 {
		key = u.key
	}
	r := kgo.Record{Topic: topic, Key: key, Value: e.Payload, Headers: headers}
	if n := batchSize(&r); n > maxBatchBytes {
		return kgo.Record{}, nil, fmt.Sprintf("record of %d bytes as a Kafka batch is larger than the producer's limit of %d bytes", n, maxBatchBytes)
	}
	return r, hs, ""
}

// recordHeaders returns hs as Kafka record headers, in the same memory:
// outbox.Header and kgo.RecordHeader are the same struct, which the
// conversion below, compiled only while they are, makes sure of.
func recordHeaders(hs []outbox.Header) []kgo.RecordHeader {
	if len(hs) == 0 {
		return nil
	}
	return unsafe.Slice((*kgo.RecordHeader)(unsafe.Pointer(unsafe.SliceData(hs))), len(hs))
}

var _ = kgo.RecordHeader(outbox.Header{}) // the same struct: recordHeaders relies on it

// headerRoom is the room record needs for the headers of e.
func headerRoom(e *outbox.Entry) int { return len(e.Headers) + 3 }

// telemetryType spares most records the catalogue's lookup, which would
// convert the header to a string.
var telemetryType = []byte(contracts.TypeDeviceTelemetry)

// topicOf returns the configured name of the contracts' Kafka topic of an
// event type, or "" when the type is not in the catalogue.
func (u *Uplink) topicOf(eventType []byte) string {
	if bytes.Equal(eventType, telemetryType) {
		return u.cfg.Topics.Telemetry
	}
	return u.topics[contracts.EventType(eventType).Topic()]
}

// envelope is what record reads of a payload without headers.
type envelope struct {
	EventType     string `json:"eventType"`
	CorrelationID string `json:"correlationId"`
	Version       string `json:"__version"`
}

func envelopeOf(payload []byte) (envelope, bool) {
	var env envelope
	if err := json.Unmarshal(payload, &env); err != nil {
		return envelope{}, false
	}
	return env, true
}

// batchSize is the size of r alone in a record batch, as franz-go counts
// it against the batch limit: the batch header, and the record with its
// length, timestamp and offset deltas (0 for a batch's first record).
func batchSize(r *kgo.Record) int {
	const batchHeader = 61
	n := 1 + 1 + 1 + // attributes, timestamp delta, offset delta
		varintLen(len(r.Key)) + len(r.Key) +
		varintLen(len(r.Value)) + len(r.Value) +
		varintLen(len(r.Headers))
	for _, h := range r.Headers {
		n += varintLen(len(h.Key)) + len(h.Key) + varintLen(len(h.Value)) + len(h.Value)
	}
	return batchHeader + varintLen(n) + n
}

// varintLen is the length of n as a zigzag varint.
func varintLen(n int) int {
	u := uint64(n) << 1
	l := 1
	for u >= 0x80 {
		u >>= 7
		l++
	}
	return l
}
