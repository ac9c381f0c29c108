package contracts

import (
	"slices"
	"time"
)

// Version is the only wire-contract version this package speaks. A message
// without __version reads as Version.
const Version = "v1"

// Envelope is the header every message carries. Build it with one of the
// New* constructors, which fill every field; Decode fills it from the wire.
type Envelope struct {
	// EventType names the message type; it decides the payload's shape.
	EventType EventType `json:"eventType"`
	// CorrelationID is a UUID. A response carries its command's id; a
	// message that starts a flow gets a new one.
	CorrelationID string `json:"correlationId" jsonschema:"format=uuid"`
	// Timestamp is when the message was made. It is encoded as RFC 3339 in
	// UTC with milliseconds.
	Timestamp time.Time `json:"timestamp"`
	// Source is who made the message.
	Source Source `json:"source"`
	// Version is the contract version, always [Version] once decoded.
	Version string `json:"__version" jsonschema:"const=v1,optional"`
}

// Header returns e. Every message type embeds an Envelope, so Header gives
// the envelope of any [Message].
func (e *Envelope) Header() *Envelope { return e }

// Kind tells from the event type whether the message is a command, a
// response or an event.
func (e *Envelope) Kind() Kind { return e.EventType.Kind() }

// Source identifies who made a message.
type Source struct {
	// Type is the kind of producer.
	Type SourceType `json:"type"`
	// ID is the producer's id: the device id for a gateway.
	ID string `json:"id"`
}

// SourceType is the kind of producer of a message.
type SourceType string

// Source types.
const (
	SourceDevice      SourceType = "device"
	SourceBackend     SourceType = "backend"
	SourceBridge      SourceType = "bridge"
	SourceIntegration SourceType = "integration"
	SourceUser        SourceType = "user"
)

// Values lists every valid SourceType.
func (SourceType) Values() []string { return slices.Clone(sourceTypes) }

var sourceTypes = []string{"device", "backend", "bridge", "integration", "user"}

func (SourceType) members() []string { return sourceTypes }

// Header names under which a transport repeats envelope fields (Kafka
// record headers, MQTT user properties), so consumers can route a message
// without parsing its payload.
const (
	HeaderEventType     = "eventType"
	HeaderCorrelationID = "correlationId"
	HeaderVersion       = "__version"
)

// Command is the header of a command (*.command.*): an envelope and an
// optional expiry.
type Command struct {
	Envelope
	// ExpiresAt, when not zero, is the instant after which the command must
	// not be executed any more.
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
}

// Expired reports whether c has an expiry and now is past it.
func (c *Command) Expired(now time.Time) bool {
	return !c.ExpiresAt.IsZero() && now.After(c.ExpiresAt)
}

// Response is the header of a response (*.response.*): an envelope, the
// outcome, and on failure the error.
type Response struct {
	Envelope
	// Status is the outcome.
	Status ResponseStatus `json:"status"`
	// Error is set exactly when Status is [StatusError].
	Error *ErrorInfo `json:"error,omitzero"`
}

// ResponseStatus is the outcome a response reports.
type ResponseStatus string

// Response statuses.
const (
	StatusSuccess ResponseStatus = "success"
	StatusError   ResponseStatus = "error"
)

// Values lists every valid ResponseStatus.
func (ResponseStatus) Values() []string { return slices.Clone(responseStatuses) }

var responseStatuses = []string{"success", "error"}

func (ResponseStatus) members() []string { return responseStatuses }

// ErrorInfo is what went wrong, in a response whose status is error.
type ErrorInfo struct {
	// Code is a stable, machine-readable code such as [CodeTimeout].
	Code string `json:"code"`
	// Message is for people.
	Message string `json:"message"`
}

// Error codes the agent answers with. Consumers must accept codes they do
// not know.
const (
	CodeInvalidCommand     = "INVALID_COMMAND"
	CodeUnsupportedVersion = "UNSUPPORTED_VERSION"
	CodeMethodNotFound     = "METHOD_NOT_FOUND"
	CodeWrongDevice        = "WRONG_DEVICE"
	CodeExpired            = "EXPIRED"
	CodeTimeout            = "TIMEOUT"
	CodeBusy               = "BUSY"
	CodeInternal           = "INTERNAL"
)

// Event is the header of an event: a fact that happened. It is an envelope
// and nothing more.
type Event struct {
	Envelope
}

// Message is any message of the catalogue: a pointer to one of the types
// such as [*DeviceTelemetry]. Use a type switch to get at the payload.
type Message interface {
	// Header returns the envelope, which the caller may read and modify.
	Header() *Envelope
	// Kind is the kind of the message's event type.
	Kind() Kind

	// eventType is the event type of the concrete Go type.
	eventType() EventType
	// payload returns a pointer to the payload, for decoding and checking.
	payload() payload
	// checkHeader checks the kind-specific header fields.
	checkHeader() *Error
	// setHeader copies the decoded header fields in.
	setHeader(h *wireHeader)
}

// payload is implemented by every payload type.
type payload interface {
	// check validates the payload; paths in errors start with "payload.".
	check() *Error
}
