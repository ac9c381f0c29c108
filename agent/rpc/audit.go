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
	d.log.answers.Info("audit "+string(cmd.Payload.Method), "rpc: management action", "action", cmd.Payload.Method, "outcome", outcome,
		"requestedBy", cmd.Payload.RequestedBy, "reason", reason, "correlationId", cmd.CorrelationID)
	m := contracts.NewDeviceManagementAudit(d.origin, &cmd.Envelope, contracts.DeviceManagementAuditPayload{
		DeviceID: d.cfg.DeviceID, Action: cmd.Payload.Method, RequestedBy: cmd.Payload.RequestedBy, Outcome: outcome, Reason: reason})
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
