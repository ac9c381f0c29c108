package contracts

import "slices"

// DeviceManagementAudit (device.management.audit) records a management
// action on a gateway (restartAgent, and the configuration and update
// methods to come): who asked, and how it went. Its correlationId is the
// command's that asked for it.
type DeviceManagementAudit struct {
	Event
	// Payload is the body of the message: see [DeviceManagementAuditPayload].
	Payload DeviceManagementAuditPayload `json:"payload"`
}

// DeviceManagementAuditPayload is the payload of [DeviceManagementAudit].
type DeviceManagementAuditPayload struct {
	// DeviceID is the gateway the action is on.
	DeviceID string `json:"deviceId"`
	// Action is the method that asked for it.
	Action Method `json:"action"`
	// RequestedBy is the command's requestedBy: who asked.
	RequestedBy string `json:"requestedBy"`
	// Outcome is how it went: see [AuditOutcome].
	Outcome AuditOutcome `json:"outcome"`
	// Reason says why, for an outcome other than done or accepted; may
	// say more for those.
	Reason string `json:"reason,omitzero"`
}

// AuditOutcome is how a management action went.
type AuditOutcome string

// Audit outcomes.
const (
	// AuditAccepted: the action is under way (a restart, an update).
	AuditAccepted AuditOutcome = "accepted"
	// AuditDone: the action is done.
	AuditDone AuditOutcome = "done"
	// AuditRefused: the action was not taken (switched off, invalid).
	AuditRefused AuditOutcome = "refused"
	// AuditFailed: the action was tried and failed.
	AuditFailed AuditOutcome = "failed"
	// AuditRolledBack: the action was undone by the agent itself.
	AuditRolledBack AuditOutcome = "rolledBack"
)

// Values lists every AuditOutcome.
func (AuditOutcome) Values() []string { return slices.Clone(auditOutcomes) }

var auditOutcomes = []string{"accepted", "done", "refused", "failed", "rolledBack"}

func (AuditOutcome) members() []string { return auditOutcomes }

func (*DeviceManagementAudit) eventType() EventType { return TypeDeviceManagementAudit }
func (m *DeviceManagementAudit) payload() payload   { return &m.Payload }

func (p *DeviceManagementAuditPayload) check() *Error {
	return firstError(
		requireString("payload.deviceId", p.DeviceID),
		checkMethod("payload.action", p.Action),
		requireString("payload.requestedBy", p.RequestedBy),
		checkEnum("payload.outcome", p.Outcome),
	)
}

// NewDeviceManagementAudit builds a device.management.audit event for the
// command cmd asked, with cmd's correlationId.
func NewDeviceManagementAudit(o Origin, cmd *Envelope, p DeviceManagementAuditPayload) *DeviceManagementAudit {
	m := &DeviceManagementAudit{Event{o.envelope(TypeDeviceManagementAudit)}, p}
	m.CorrelationID = cmd.CorrelationID
	return m
}
