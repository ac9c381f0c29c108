package contracts

import (
	"errors"
	"time"

	"github.com/google/uuid"
)

// Origin stamps the messages a process makes: it is their source and the
// clock their timestamps come from. It is a value; copy it freely.
type Origin struct {
	// Source is written into every message.
	Source Source
	// Clock gives the time of timestamps; nil means time.Now.
	Clock func() time.Time
}

// DeviceOrigin returns the Origin of the agent on device id.
func DeviceOrigin(id string) Origin { return Origin{Source: Source{Type: SourceDevice, ID: id}} }

// Now returns the current time of o's clock, in UTC, to the millisecond:
// what a timestamp made now holds once encoded.
func (o Origin) Now() time.Time {
	now := time.Now
	if o.Clock != nil {
		now = o.Clock
	}
	return now().UTC().Truncate(time.Millisecond)
}

// NewCorrelationID returns a new random (version 4) UUID.
func NewCorrelationID() string { return uuid.NewString() }

// envelope starts a new flow: a new correlationId.
func (o Origin) envelope(t EventType) Envelope {
	return o.reply(t, NewCorrelationID())
}

// reply continues the flow of correlationID.
func (o Origin) reply(t EventType, correlationID string) Envelope {
	return Envelope{EventType: t, CorrelationID: correlationID, Timestamp: o.Now(), Source: o.Source, Version: Version}
}

// NewDeviceCommandRPC builds a command with a new correlationId. ttl, when
// positive, sets ExpiresAt to now plus ttl.
func NewDeviceCommandRPC(o Origin, p DeviceCommandRPCPayload, ttl time.Duration) *DeviceCommandRPC {
	m := &DeviceCommandRPC{Command: Command{Envelope: o.envelope(TypeDeviceCommandRPC)}, Payload: p}
	if ttl > 0 {
		m.ExpiresAt = m.Timestamp.Add(ttl)
	}
	return m
}

// NewDeviceResponseRPC builds the successful answer to the command whose
// header is cmd: it carries cmd's correlationId.
func NewDeviceResponseRPC(o Origin, cmd *Envelope, p DeviceResponseRPCPayload) *DeviceResponseRPC {
	return &DeviceResponseRPC{
		Response: Response{Envelope: o.reply(TypeDeviceResponseRPC, cmd.CorrelationID), Status: StatusSuccess},
		Payload:  p,
	}
}

// NewDeviceResponseRPCError builds the failed answer to the command whose
// header is cmd, with a code such as [CodeTimeout] and a message for people.
func NewDeviceResponseRPCError(o Origin, cmd *Envelope, p DeviceResponseRPCPayload, code, message string) *DeviceResponseRPC {
	return &DeviceResponseRPC{
		Response: Response{
			Envelope: o.reply(TypeDeviceResponseRPC, cmd.CorrelationID),
			Status:   StatusError,
			Error:    &ErrorInfo{Code: code, Message: message},
		},
		Payload: p,
	}
}

// NewDeviceTelemetry builds a telemetry event that starts a flow.
func NewDeviceTelemetry(o Origin, p DeviceTelemetryPayload) *DeviceTelemetry {
	return &DeviceTelemetry{Event{o.envelope(TypeDeviceTelemetry)}, p}
}

// NewDeviceStatusChanged builds a status event.
func NewDeviceStatusChanged(o Origin, p DeviceStatusChangedPayload) *DeviceStatusChanged {
	return &DeviceStatusChanged{Event{o.envelope(TypeDeviceStatusChanged)}, p}
}

// NewDeviceBound builds a device.bound event.
func NewDeviceBound(o Origin, p DeviceBoundPayload) *DeviceBound {
	return &DeviceBound{Event{o.envelope(TypeDeviceBound)}, p}
}

// NewDeviceUnbound builds a device.unbound event.
func NewDeviceUnbound(o Origin, p DeviceUnboundPayload) *DeviceUnbound {
	return &DeviceUnbound{Event{o.envelope(TypeDeviceUnbound)}, p}
}

// NewCertificateCommandRotate builds a rotation command; ttl as in
// [NewDeviceCommandRPC].
func NewCertificateCommandRotate(o Origin, p CertificateCommandRotatePayload, ttl time.Duration) *CertificateCommandRotate {
	m := &CertificateCommandRotate{Command: Command{Envelope: o.envelope(TypeCertificateCommandRotate)}, Payload: p}
	if ttl > 0 {
		m.ExpiresAt = m.Timestamp.Add(ttl)
	}
	return m
}

// NewCertificateCSRCreated builds a CSR event; it starts a rotation flow.
func NewCertificateCSRCreated(o Origin, p CertificateCSRCreatedPayload) *CertificateCSRCreated {
	return &CertificateCSRCreated{Event{o.envelope(TypeCertificateCSRCreated)}, p}
}

// NewCertificateIssued builds the answer to the CSR event whose header is
// csr: it carries csr's correlationId.
func NewCertificateIssued(o Origin, csr *Envelope, p CertificateIssuedPayload) *CertificateIssued {
	return &CertificateIssued{Event{o.reply(TypeCertificateIssued, csr.CorrelationID)}, p}
}

// NewCertificateInstalled builds the end of the rotation flow
// correlationID.
func NewCertificateInstalled(o Origin, correlationID string, p CertificateInstalledPayload) *CertificateInstalled {
	return &CertificateInstalled{Event{o.reply(TypeCertificateInstalled, correlationID)}, p}
}

// NewCertificateRotationFailed builds the failed end of the rotation flow
// correlationID; pass "" to start a new flow (a renewal that failed before
// its CSR was sent).
func NewCertificateRotationFailed(o Origin, correlationID string, p CertificateRotationFailedPayload) *CertificateRotationFailed {
	if correlationID == "" {
		correlationID = NewCorrelationID()
	}
	return &CertificateRotationFailed{Event{o.reply(TypeCertificateRotationFailed, correlationID)}, p}
}

// NewUserCreated builds a user.created event.
func NewUserCreated(o Origin, p UserPayload) *UserCreated {
	return &UserCreated{Event{o.envelope(TypeUserCreated)}, p}
}

// NewUserUpdated builds a user.updated event.
func NewUserUpdated(o Origin, p UserPayload) *UserUpdated {
	return &UserUpdated{Event{o.envelope(TypeUserUpdated)}, p}
}

// NewUserDeleted builds a user.deleted event.
func NewUserDeleted(o Origin, p UserPayload) *UserDeleted {
	return &UserDeleted{Event{o.envelope(TypeUserDeleted)}, p}
}

// NewIntegrationMQTTReceived builds the event for a raw MQTT message; the
// body is written as text when it is UTF-8 and as base64 otherwise.
func NewIntegrationMQTTReceived(o Origin, topic string, body []byte, qos int, receivedAt time.Time) *IntegrationMQTTReceived {
	s, enc := EncodeBytes(body)
	p := IntegrationMQTTReceivedPayload{Topic: topic, Payload: s, QoS: qos, ReceivedAt: receivedAt}
	if enc != EncodingUTF8 {
		p.PayloadEncoding = enc
	}
	return &IntegrationMQTTReceived{Event{o.envelope(TypeIntegrationMQTTReceived)}, p}
}

// NewSystemDLQ builds a dead letter for raw input that came on
// originalTopic and failed with cause. When cause is an [*Error] that read
// a correlationId, the dead letter carries it, so the failure can be traced
// to its sender; otherwise it gets a new one.
func NewSystemDLQ(o Origin, reason, originalTopic string, raw []byte, cause error) *SystemDLQ {
	s, enc := EncodeBytes(raw)
	p := SystemDLQPayload{Reason: reason, OriginalTopic: originalTopic, Raw: s, Error: "unknown error"}
	if enc != EncodingUTF8 {
		p.RawEncoding = enc
	}
	id := ""
	if cause != nil {
		p.Error = cause.Error()
		if e := (*Error)(nil); errors.As(cause, &e) && e.Header != nil {
			id = e.Header.CorrelationID
		}
	}
	if id == "" {
		id = NewCorrelationID()
	}
	return &SystemDLQ{Event{o.reply(TypeSystemDLQ, id)}, p}
}
