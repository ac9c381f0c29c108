package mqtt

import (
	"fmt"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/google/uuid"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/agent/uplink"
	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/contracts/legacy"
)

// The platform's old formats (package contracts/legacy) on MQTT, unless
// Protocol is ProtocolV1. Records in the outbox stay v1, whatever the
// protocol: the uplink renders one in an old format as it takes it from
// the outbox (publications), so a record queued before a change of
// protocol goes out in the protocol of the day.
//
// In: a message on LegacyTopics.Commands is an old RPC command. The
// uplink converts it (fromLegacy) into the v1 command the dispatcher
// takes, and marks its answer with HeaderFormat, which the publish turns
// into the old response format.

// HeaderFormat is the outbox header that asks the uplink to publish a
// record in an old format: FormatLegacy, on an answer to a legacy command.
// The uplink drops it as it publishes; the Kafka uplink drops every
// mqtt.* header.
const HeaderFormat = "mqtt.format"

// FormatLegacy is the value of HeaderFormat for the legacy formats.
const FormatLegacy = "legacy"

// legacyIDSpace is the namespace of the correlationIds derived from a
// Correlation Data that is not a UUID (legacyCorrelationID).
var legacyIDSpace = uuid.MustParse("816568eb-2dde-4f17-be1c-0f696c8306b3")

// legacyCorrelationID returns the correlationId of a legacy command
// delivered with the MQTT v5 Correlation Data data: data itself when it
// is a UUID in text, as a v1 command's correlationId is written (a
// command sent in both formats with the same id then runs once); else,
// when there is some, a UUID derived from it (version 5, SHA-1), the
// same for every delivery of the same data; else a new one.
func legacyCorrelationID(data []byte) string {
	switch {
	case len(data) == 36:
		if _, err := uuid.ParseBytes(data); err == nil {
			return string(data)
		}
	case len(data) == 0:
		return contracts.NewCorrelationID()
	}
	return uuid.NewSHA1(legacyIDSpace, data).String()
}

// fromLegacy turns c, received on the legacy commands topic, into the
// v1 command the dispatcher takes: its answer goes to the Response Topic
// or else the legacy responses topic, marked for the legacy format; its
// correlationId comes from the Correlation Data (legacyCorrelationID). A
// command that legacy.DecodeCommand refuses keeps its payload, with the
// Refusal; one too large is left as it came, for the dispatcher to
// refuse.
func (u *Uplink) fromLegacy(c *Command) {
	c.Reply, c.ReplyHeaders = c.ReplyTo(u.legacy.Responses)
	c.ReplyHeaders = append(c.ReplyHeaders, outbox.Header{Key: HeaderFormat, Value: []byte(FormatLegacy)})
	if c.BodySize() > u.cfg.MaxCommandBytes {
		return
	}
	id := legacyCorrelationID(c.CorrelationData)
	// To the millisecond, as expiresAt is written: the timeout counts
	// from the arrival exactly.
	c.ReceivedAt = c.ReceivedAt.Truncate(time.Millisecond)
	received := c.ReceivedAt
	o := contracts.Origin{Source: contracts.Source{Type: contracts.SourceBridge, ID: u.cfg.DeviceID}, Clock: func() time.Time { return received }}
	m, err := legacy.DecodeCommand(c.Payload, o)
	if err == nil {
		m.CorrelationID = id
		var b []byte
		if b, err = contracts.Encode(m); err == nil {
			c.Payload = b
			return
		}
	}
	c.Refusal = &uplink.Refusal{Err: err, Method: legacyMethod(c.Payload), CorrelationID: id}
}

// legacyMethod returns the method a legacy command names, "" when it is
// not a JSON object with a string method.
func legacyMethod(payload []byte) string {
	var named struct {
		Method string `json:"method"`
	}
	if json.Unmarshal(payload, &named) != nil {
		return ""
	}
	return named.Method
}

// publications appends to dst the PUBLISHes of entry e: e itself in v1;
// in the legacy format when the protocol (or, for an answer, its
// command) asks for it and e has one; in both for telemetry and the
// status with ProtocolDual.
func (u *Uplink) publications(dst []publication, e outbox.Entry) []publication {
	marked := formatOf(e.Headers) == FormatLegacy
	if !marked && (u.cfg.Protocol == ProtocolV1 || e.Topic != u.topics.Telemetry && e.Topic != u.topics.Status) {
		return append(dst, publication{Entry: e})
	}
	old, err := u.renderLegacy(e, marked)
	switch {
	case err != nil:
		u.lines.Warn("legacy render", "mqtt: no legacy form; published in v1", "topic", e.Topic, "correlationId", headerValue(e.Headers, contracts.HeaderCorrelationID), "err", err)
		e.Headers = withoutFormat(e.Headers)
		return append(dst, publication{Entry: e})
	case marked || u.cfg.Protocol == ProtocolLegacy:
		return append(dst, publication{Entry: old})
	}
	both := &fanout{left: 2}
	return append(dst, publication{Entry: e, fanout: both}, publication{Entry: old, fanout: both})
}

// renderLegacy returns e in the legacy format: an answer (marked) on its
// reply topic, telemetry and the status on their legacy topics. Its
// headers are the content type, and an answer's Correlation Data; the
// contracts' headers, which describe the v1 message, are dropped.
func (u *Uplink) renderLegacy(e outbox.Entry, marked bool) (outbox.Entry, error) {
	m, err := contracts.Decode(e.Payload)
	if err != nil {
		return e, err
	}
	old := e
	old.Headers = []outbox.Header{{Key: HeaderContentType, Value: []byte("application/json")}}
	switch m := m.(type) {
	case *contracts.DeviceResponseRPC:
		if !marked {
			break
		}
		if cd := headerValue(e.Headers, HeaderCorrelationData); cd != nil {
			old.Headers = append(old.Headers, outbox.Header{Key: HeaderCorrelationData, Value: cd})
		}
		old.Payload, err = legacy.EncodeResponse(m)
		return old, err
	case *contracts.DeviceTelemetry:
		old.Topic, old.Retain = u.legacy.Telemetry, false
		old.Payload, err = legacy.EncodeTelemetry(m)
		return old, err
	case *contracts.DeviceStatusChanged:
		old.Topic = u.legacy.Status
		old.Payload, err = legacy.EncodeStatusChanged(m)
		return old, err
	}
	return e, fmt.Errorf("mqtt: %s on %s has no legacy format", m.Header().EventType, e.Topic)
}

// formatOf returns the value of the HeaderFormat header, "" when there is
// none.
func formatOf(hs []outbox.Header) string {
	for _, h := range hs {
		if h.Key == HeaderFormat {
			return string(h.Value)
		}
	}
	return ""
}

// headerValue returns the value of the header key, nil when there is
// none.
func headerValue(hs []outbox.Header, key string) []byte {
	for _, h := range hs {
		if h.Key == key {
			return h.Value
		}
	}
	return nil
}

// withoutFormat returns hs without the HeaderFormat header, in a new
// slice: the entry's own is the outbox's.
func withoutFormat(hs []outbox.Header) []outbox.Header {
	out := make([]outbox.Header, 0, len(hs))
	for _, h := range hs {
		if h.Key != HeaderFormat {
			out = append(out, h)
		}
	}
	return out
}
