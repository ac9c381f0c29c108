package contracts

import (
	"errors"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// A few required members have a zero value that is also valid (a reading's
// value 0, an empty unit, QoS 0, an empty MQTT body), so a missing member
// cannot be told from the zero value after decoding. Their types decode
// through a wire form with pointers, which shows what was absent.

// errMissing marks a required member that is absent.
var errMissing = errors.New("required")

// missing reports the member name of the object just decoded as absent.
func missing(dec *jsontext.Decoder, name string) error {
	return &json.SemanticError{JSONPointer: dec.StackPointer().AppendToken(name), Err: errMissing}
}

type readingWire struct {
	Sensor string    `json:"sensor"`
	Metric string    `json:"metric"`
	Value  *float64  `json:"value"`
	Unit   *string   `json:"unit"`
	At     time.Time `json:"at"`
}

func decodeReading(dec *jsontext.Decoder, r *Reading) error {
	var w readingWire
	if err := json.UnmarshalDecode(dec, &w); err != nil {
		return err
	}
	switch {
	case w.Value == nil:
		return missing(dec, "value")
	case w.Unit == nil:
		return missing(dec, "unit")
	}
	*r = Reading{Sensor: w.Sensor, Metric: w.Metric, Value: *w.Value, Unit: *w.Unit, At: w.At}
	return nil
}

type mqttReceivedWire struct {
	Topic           string    `json:"topic"`
	Payload         *string   `json:"payload"`
	PayloadEncoding Encoding  `json:"payloadEncoding"`
	QoS             *int      `json:"qos"`
	ReceivedAt      time.Time `json:"receivedAt"`
}

func decodeMQTTReceived(dec *jsontext.Decoder, p *IntegrationMQTTReceivedPayload) error {
	var w mqttReceivedWire
	if err := json.UnmarshalDecode(dec, &w); err != nil {
		return err
	}
	switch {
	case w.Payload == nil:
		return missing(dec, "payload")
	case w.QoS == nil:
		return missing(dec, "qos")
	}
	*p = IntegrationMQTTReceivedPayload{Topic: w.Topic, Payload: *w.Payload, PayloadEncoding: w.PayloadEncoding, QoS: *w.QoS, ReceivedAt: w.ReceivedAt}
	return nil
}

type dlqWire struct {
	Reason        string   `json:"reason"`
	OriginalTopic string   `json:"originalTopic"`
	Raw           *string  `json:"raw"`
	RawEncoding   Encoding `json:"rawEncoding"`
	Error         string   `json:"error"`
}

func decodeDLQ(dec *jsontext.Decoder, p *SystemDLQPayload) error {
	var w dlqWire
	if err := json.UnmarshalDecode(dec, &w); err != nil {
		return err
	}
	if w.Raw == nil {
		return missing(dec, "raw")
	}
	*p = SystemDLQPayload{Reason: w.Reason, OriginalTopic: w.OriginalTopic, Raw: *w.Raw, RawEncoding: w.RawEncoding, Error: w.Error}
	return nil
}
