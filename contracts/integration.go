package contracts

import (
	"encoding/base64"
	"slices"
	"time"
	"unicode/utf8"
)

// IntegrationMQTTReceived (integration.mqtt.received) carries a raw
// message a plain MQTT device published, adapted into the platform.
type IntegrationMQTTReceived struct {
	Event
	// Payload is the body of the message: see [IntegrationMQTTReceivedPayload].
	Payload IntegrationMQTTReceivedPayload `json:"payload"`
}

// IntegrationMQTTReceivedPayload is the payload of [IntegrationMQTTReceived].
type IntegrationMQTTReceivedPayload struct {
	// Topic is the MQTT topic the message came on.
	Topic string `json:"topic"`
	// Payload is the message body: the text itself when it is UTF-8,
	// base64 otherwise (see PayloadEncoding). Use [Bytes] to get it back.
	Payload string `json:"payload" jsonschema:"allowEmpty,encodedBy=payloadEncoding"`
	// PayloadEncoding says how Payload is written; absent means utf8.
	PayloadEncoding Encoding `json:"payloadEncoding,omitzero"`
	// QoS is the MQTT quality of service, 0 to 2.
	QoS int `json:"qos" jsonschema:"minimum=0,maximum=2"`
	// ReceivedAt is when the agent received the message.
	ReceivedAt time.Time `json:"receivedAt"`
}

// Encoding says how a byte string is written in a JSON string.
type Encoding string

// Encodings.
const (
	EncodingUTF8   Encoding = "utf8"
	EncodingBase64 Encoding = "base64"
)

// Values lists every Encoding.
func (Encoding) Values() []string { return slices.Clone(encodings) }

var encodings = []string{"utf8", "base64"}

func (Encoding) members() []string { return encodings }

// EncodeBytes writes b as a JSON-safe string: as is when it is valid
// UTF-8, else as standard base64.
func EncodeBytes(b []byte) (string, Encoding) {
	if utf8.Valid(b) {
		return string(b), EncodingUTF8
	}
	return base64.StdEncoding.EncodeToString(b), EncodingBase64
}

// Bytes returns the bytes s stands for under encoding e ("" meaning utf8).
func Bytes(s string, e Encoding) ([]byte, error) {
	if e == EncodingBase64 {
		return base64.StdEncoding.DecodeString(s)
	}
	return []byte(s), nil
}

func (*IntegrationMQTTReceived) eventType() EventType { return TypeIntegrationMQTTReceived }
func (m *IntegrationMQTTReceived) payload() payload   { return &m.Payload }

func (p *IntegrationMQTTReceivedPayload) check() *Error {
	return firstError(
		requireString("payload.topic", p.Topic),
		checkEncoding("payload.payload", p.Payload, "payload.payloadEncoding", p.PayloadEncoding),
		checkRange("payload.qos", p.QoS, 0, 2),
		requireTime("payload.receivedAt", p.ReceivedAt),
	)
}
