package contracts

import (
	"strconv"
	"strings"
)

// EventType names a message type of the catalogue, such as
// "device.telemetry". Its name gives its [Kind].
type EventType string

// The catalogue, grouped as the backend library groups it.
const (
	// Device commands.
	TypeDeviceCommandRPC EventType = "device.command.rpc"
	// Device responses.
	TypeDeviceResponseRPC EventType = "device.response.rpc"
	// Device events.
	TypeDeviceTelemetry     EventType = "device.telemetry"
	TypeDeviceStatusChanged EventType = "device.status.changed"
	TypeDeviceBound         EventType = "device.bound"
	TypeDeviceUnbound       EventType = "device.unbound"
	// Device management events.
	TypeDeviceManagementAudit EventType = "device.management.audit"
	// Certificate commands and events.
	TypeCertificateCommandRotate  EventType = "certificate.command.rotate"
	TypeCertificateCSRCreated     EventType = "certificate.csr.created"
	TypeCertificateIssued         EventType = "certificate.issued"
	TypeCertificateInstalled      EventType = "certificate.installed"
	TypeCertificateRotationFailed EventType = "certificate.rotation.failed"
	// User events.
	TypeUserCreated EventType = "user.created"
	TypeUserUpdated EventType = "user.updated"
	TypeUserDeleted EventType = "user.deleted"
	// Integration events.
	TypeIntegrationMQTTReceived EventType = "integration.mqtt.received"
	// Dead letters.
	TypeSystemDLQ EventType = "system.dlq"
)

// Kafka topics.
const (
	TopicDeviceCommands    = "device.commands"
	TopicDeviceResponses   = "device.responses"
	TopicDeviceEvents      = "device.events"
	TopicDeviceTelemetry   = "device.telemetry"
	TopicCertificateEvents = "certificate.events"
	TopicUserEvents        = "user.events"
	TopicIntegrationEvents = "integration.events"
	TopicDLQ               = "dlq"
)

// spec is one row of the catalogue.
type spec struct {
	topic string
	new   func() Message
}

// catalogue maps every event type to its Kafka topic and a constructor of
// its zero message. Commands addressed to a device (device.command.rpc,
// certificate.command.rotate) travel on device.commands; the answer to a
// device's CSR, certificate.issued, travels on certificate.events with
// the rest of the rotation's events. A gateway reads both (its partition
// of each); over MQTT every inbound type comes on the device's commands
// topic.
var catalogue = map[EventType]spec{
	TypeDeviceCommandRPC:          {TopicDeviceCommands, func() Message { return new(DeviceCommandRPC) }},
	TypeDeviceResponseRPC:         {TopicDeviceResponses, func() Message { return new(DeviceResponseRPC) }},
	TypeDeviceTelemetry:           {TopicDeviceTelemetry, func() Message { return new(DeviceTelemetry) }},
	TypeDeviceStatusChanged:       {TopicDeviceEvents, func() Message { return new(DeviceStatusChanged) }},
	TypeDeviceBound:               {TopicDeviceEvents, func() Message { return new(DeviceBound) }},
	TypeDeviceUnbound:             {TopicDeviceEvents, func() Message { return new(DeviceUnbound) }},
	TypeDeviceManagementAudit:     {TopicDeviceEvents, func() Message { return new(DeviceManagementAudit) }},
	TypeCertificateCommandRotate:  {TopicDeviceCommands, func() Message { return new(CertificateCommandRotate) }},
	TypeCertificateCSRCreated:     {TopicCertificateEvents, func() Message { return new(CertificateCSRCreated) }},
	TypeCertificateIssued:         {TopicCertificateEvents, func() Message { return new(CertificateIssued) }},
	TypeCertificateInstalled:      {TopicCertificateEvents, func() Message { return new(CertificateInstalled) }},
	TypeCertificateRotationFailed: {TopicCertificateEvents, func() Message { return new(CertificateRotationFailed) }},
	TypeUserCreated:               {TopicUserEvents, func() Message { return new(UserCreated) }},
	TypeUserUpdated:               {TopicUserEvents, func() Message { return new(UserUpdated) }},
	TypeUserDeleted:               {TopicUserEvents, func() Message { return new(UserDeleted) }},
	TypeIntegrationMQTTReceived:   {TopicIntegrationEvents, func() Message { return new(IntegrationMQTTReceived) }},
	TypeSystemDLQ:                 {TopicDLQ, func() Message { return new(SystemDLQ) }},
}

// EventTypes returns every event type of the catalogue, grouped as the
// backend library groups them.
func EventTypes() []EventType {
	return []EventType{
		TypeDeviceCommandRPC,
		TypeDeviceResponseRPC,
		TypeDeviceTelemetry, TypeDeviceStatusChanged, TypeDeviceBound, TypeDeviceUnbound,
		TypeDeviceManagementAudit,
		TypeCertificateCommandRotate, TypeCertificateCSRCreated, TypeCertificateIssued,
		TypeCertificateInstalled, TypeCertificateRotationFailed,
		TypeUserCreated, TypeUserUpdated, TypeUserDeleted,
		TypeIntegrationMQTTReceived,
		TypeSystemDLQ,
	}
}

// Known reports whether t is in the catalogue.
func (t EventType) Known() bool {
	_, ok := catalogue[t]
	return ok
}

// Topic returns the Kafka topic that carries messages of type t, or "" when
// t is not in the catalogue.
func (t EventType) Topic() string { return catalogue[t].topic }

// Kind tells from the name whether t is a command (*.command.*), a response
// (*.response.*) or an event (anything else).
func (t EventType) Kind() Kind {
	switch {
	case strings.Contains(string(t), ".command."):
		return KindCommand
	case strings.Contains(string(t), ".response."):
		return KindResponse
	default:
		return KindEvent
	}
}

// NewMessage returns a zero message of type t (its Header().EventType set),
// for decoding into or for reflection, or nil when t is unknown.
func NewMessage(t EventType) Message {
	s, ok := catalogue[t]
	if !ok {
		return nil
	}
	m := s.new()
	m.Header().EventType = t
	return m
}

// Kind is the kind of a message: command, response or event.
type Kind int

// Kinds.
const (
	KindEvent Kind = iota
	KindCommand
	KindResponse
)

// String returns "event", "command" or "response".
func (k Kind) String() string {
	switch k {
	case KindCommand:
		return "command"
	case KindResponse:
		return "response"
	case KindEvent:
		return "event"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}
