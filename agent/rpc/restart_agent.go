package rpc

import (
	"context"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/iot-hub/agent/contracts"
)

// restartAgent answers restartAgent: the action is audited (accepted,
// with who asked); once the answer is in the outbox the agent is asked
// to stop cleanly, and its supervisor starts it again (systemd's
// Restart=always).
// params.reason, optional, goes into the audit event and the log.
type restartAgent struct {
	restart func(reason string) // nil: the agent cannot restart itself
	audit   auditor
}

// restartParams are the params of restartAgent.
type restartParams struct {
	Reason string `json:"reason,omitzero"`
}

// restartResult is the result of restartAgent.
type restartResult struct {
	// Restarting is true: the agent stops once this answer is out.
	Restarting bool `json:"restarting"`
	restart    func()
}

func (r restartResult) afterAnswer() { r.restart() }

func (r restartAgent) run(ctx context.Context, raw jsontext.Value) (any, error) {
	var p restartParams
	if err := decodeParams(raw, &p); err != nil {
		return nil, err
	}
	if r.restart == nil {
		return nil, errorf(contracts.CodeInternal, "restartAgent: this agent cannot restart itself")
	}
	if err := r.audit(ctx, contracts.AuditAccepted, p.Reason); err != nil {
		return nil, err // not restarted: an action not recorded is not taken
	}
	return restartResult{Restarting: true, restart: func() { r.restart(p.Reason) }}, nil
}
