package contracts

// SystemDLQ (system.dlq) is a dead letter: input that could not be handled,
// kept with the reason so that nothing is silently dropped.
type SystemDLQ struct {
	Event
	// Payload is the body of the message: see [SystemDLQPayload].
	Payload SystemDLQPayload `json:"payload"`
}

// SystemDLQPayload is the payload of [SystemDLQ].
type SystemDLQPayload struct {
	// Reason classifies the failure, such as [DLQMalformed].
	Reason string `json:"reason"`
	// OriginalTopic is the topic the input came on.
	OriginalTopic string `json:"originalTopic"`
	// Raw is the input: the text itself when it is UTF-8, base64 otherwise
	// (see RawEncoding). Use [Bytes] to get it back.
	Raw string `json:"raw" jsonschema:"allowEmpty,encodedBy=rawEncoding"`
	// RawEncoding says how Raw is written; absent means utf8.
	RawEncoding Encoding `json:"rawEncoding,omitzero"`
	// Error is the error the input caused, for people.
	Error string `json:"error"`
}

// Dead-letter reasons the agent uses.
const (
	DLQMalformed          = "malformed"           // not JSON, or not an object
	DLQUnsupportedVersion = "unsupported_version" // __version other than v1
	DLQUnknownEventType   = "unknown_event_type"  // eventType not in the catalogue
	DLQInvalid            = "invalid"             // fails validation
	DLQUnanswerable       = "unanswerable"        // a command without a usable correlationId
	DLQExpired            = "expired"             // a command that expired before it ran
	DLQRejected           = "rejected"            // the broker refused it for good
	DLQTooLarge           = "too_large"           // larger than the agent accepts; raw is cut short
	DLQWrongDevice        = "wrong_device"        // a command for another device
)

func (*SystemDLQ) eventType() EventType { return TypeSystemDLQ }
func (m *SystemDLQ) payload() payload   { return &m.Payload }

func (p *SystemDLQPayload) check() *Error {
	return firstError(
		requireString("payload.reason", p.Reason),
		requireString("payload.originalTopic", p.OriginalTopic),
		checkEncoding("payload.raw", p.Raw, "payload.rawEncoding", p.RawEncoding),
		requireString("payload.error", p.Error),
	)
}
