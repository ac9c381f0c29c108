package kafka

import (
	"bytes"
	"encoding/json"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/iot-hub/agent/contracts"
)

// address is what the consumer reads of a record's body to tell whose it
// is and what: its eventType and its payload's deviceId; ok is false
// when the body is not a JSON object.
type address struct {
	EventType string `json:"eventType"`
	Payload   struct {
		DeviceID *string `json:"deviceId"`
	} `json:"payload"`
	ok bool
}

func readAddress(body []byte) address {
	var a address
	a.ok = json.Unmarshal(body, &a) == nil
	return a
}

// forDevice reports whether r, of body a, is for this device: whether
// its payload's deviceId is the device's, whatever its key. A payload
// without one (not JSON, not of the contracts) is the device's when
// keyed by it, so that the handler dead-letters it.
func (c *consumer) forDevice(r *kgo.Record, a address) bool {
	if a.ok && a.Payload.DeviceID != nil {
		return *a.Payload.DeviceID == c.u.cfg.DeviceID
	}
	return bytes.Equal(r.Key, c.u.key)
}

// issuedType is the one type the consumer delivers of the certificates
// topic.
var issuedType = []byte(contracts.TypeCertificateIssued)

// issuedForDevice reports whether r, a record of the certificates topic,
// is a certificate.issued (by its eventType header, else its body's) for
// this device (forDevice). The body of a record whose header says
// another type is not read: most of the topic is the fleet's CSRs.
func (c *consumer) issuedForDevice(r *kgo.Record) bool {
	et, headed := headerValue(r.Headers, contracts.HeaderEventType)
	if headed && !bytes.Equal(et, issuedType) {
		return false
	}
	a := readAddress(r.Value)
	if !headed && a.EventType != string(contracts.TypeCertificateIssued) {
		return false
	}
	return c.forDevice(r, a)
}

// maxHintKey is how much of a record's key the hint of hintKey shows.
const maxHintKey = 64

// hintKey, with CommandsOwn, logs (at most once every rateEvery) that a
// command for this device came keyed otherwise than by its id: it is
// answered, having landed on the device's partition, but such commands
// land on any partition, and those on others never reach the gateway.
func (c *consumer) hintKey(r *kgo.Record) {
	if c.u.cfg.CommandsPartitions != CommandsOwn || bytes.Equal(r.Key, c.u.key) {
		return
	}
	corr, _ := headerValue(r.Headers, contracts.HeaderCorrelationID)
	c.u.lines.Warn("key hint", "kafka: a command for this device came keyed otherwise than by its id; it is answered, "+
		"but commands keyed so that land on other partitions never reach this gateway: key them by device id, or set commandsPartitions: all",
		"topic", r.Topic, "partition", r.Partition, "key", string(r.Key[:min(len(r.Key), maxHintKey)]), "correlationId", string(corr))
}

// headerValue returns the value of the header key of hs, and whether
// there is one.
func headerValue(hs []kgo.RecordHeader, key string) ([]byte, bool) {
	for _, h := range hs {
		if h.Key == key {
			return h.Value, true
		}
	}
	return nil, false
}
