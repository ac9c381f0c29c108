package rpc

import (
	"context"
	"fmt"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/agent/record"
	"github.com/iot-hub/agent/contracts"
)

// commandKey is the key of the command a method runs for in its context.
type commandKey struct{}

// commandOf returns the command a method runs for, from its context.
func commandOf(ctx context.Context) *contracts.DeviceCommandRPC {
	cmd, _ := ctx.Value(commandKey{}).(*contracts.DeviceCommandRPC)
	return cmd
}

// auditor records management actions: it logs each and puts a
// device.management.audit event in the outbox, durable when it returns.
type auditor func(ctx context.Context, outcome contracts.AuditOutcome, reason string) error

// audit is the Dispatcher's auditor: the event carries the requestedBy and
// the correlationId of the command ctx runs for.
func (d *Dispatcher) audit(ctx context.Context, outcome contracts.AuditOutcome, reason string) error {
	cmd := commandOf(ctx)
	if cmd == nil {
		return fmt.Errorf("rpc: audit: no command in the context")
	}
	return d.Record(ctx, Audit{CorrelationID: cmd.CorrelationID, Action: cmd.Payload.Method,
		RequestedBy: cmd.Payload.RequestedBy, Outcome: outcome, Reason: reason})
}

// Audit is the record of a management action.
type Audit struct {
	// CorrelationID is the command's that asked for the action.
	CorrelationID string
	// Action is the method.
	Action contracts.Method
	// RequestedBy is the command's requestedBy.
	RequestedBy string
	// Outcome is what became of it.
	Outcome contracts.AuditOutcome
	// Reason says why, or what the asker gave as one.
	Reason string
}

// Record logs a and puts its device.management.audit event in the
// outbox, durable when it returns: for the outcomes that come after the
// command was answered (a configuration's trial that ended).
func (d *Dispatcher) Record(ctx context.Context, a Audit) error {
	d.log.answers.Info("audit "+string(a.Action), "rpc: management action", "action", a.Action, "outcome", a.Outcome,
		"requestedBy", a.RequestedBy, "reason", a.Reason, "correlationId", a.CorrelationID)
	m := contracts.NewDeviceManagementAudit(d.origin, &contracts.Envelope{CorrelationID: a.CorrelationID}, contracts.DeviceManagementAuditPayload{
		DeviceID: d.cfg.DeviceID, Action: a.Action, RequestedBy: a.RequestedBy, Outcome: a.Outcome, Reason: a.Reason})
	b, err := contracts.Encode(m)
	if err != nil {
		return fmt.Errorf("rpc: audit: %w", err)
	}
	rec := record.Of(outbox.LaneControl, d.eventsTopic, d.cfg.DeviceID, record.HeadOf(m.Header()), b)
	if err := d.box.Append(ctx, rec); err != nil {
		return fmt.Errorf("rpc: audit: %w", err)
	}
	return nil
}
