package rpc

import (
	"context"
	"errors"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/iot-hub/agent/contracts"
)

// setConfig answers setConfig: a whole new configuration (params.config)
// or a JSON merge patch onto the running one (params.patch, RFC 7396),
// validated as check-config validates, kept, and run from a restart on
// trial: unless the agent's uplink connects with it within its
// rollbackAfter, the agent goes back to the configuration before by
// itself (see agent/configstore). params.reason, optional, goes into the
// audit event and the log.
type setConfig struct {
	plan  func(ctx context.Context, req ConfigChange) (ConfigPlan, error) // nil: not offered
	audit auditor
}

// ConfigChange is a setConfig request: exactly one of Config and Patch.
type ConfigChange struct {
	// Config is a whole configuration, as getConfig returns it: values
	// "***" keep the running configuration's secrets.
	Config jsontext.Value `json:"config,omitzero"`
	// Patch is a JSON merge patch onto the running configuration.
	Patch jsontext.Value `json:"patch,omitzero"`
	// Reason says why, for the audit event and the log.
	Reason string `json:"reason,omitzero"`
}

// ConfigPlan is a valid new configuration, ready to be kept: what
// setConfig's Deps function makes of a ConfigChange.
type ConfigPlan struct {
	// RollbackAfter is how long it will have to connect.
	RollbackAfter string
	// SHA256 is its file's SHA-256, hex.
	SHA256 string
	// Keep puts it on trial from the next start, for the command of
	// correlationID that requestedBy sent.
	Keep func(correlationID, requestedBy string) error
	// Restart restarts the agent, once the answer is out.
	Restart func()
}

// setConfigResult is the result of setConfig.
type setConfigResult struct {
	// Restarting is true: the agent restarts with the new configuration
	// once this answer is out.
	Restarting    bool   `json:"restarting"`
	RollbackAfter string `json:"rollbackAfter"`
	SHA256        string `json:"sha256"`
	restart       func()
}

func (r setConfigResult) afterAnswer() { r.restart() }

// Refused is the error a setConfig or updateAgent Deps function returns
// for a request it will not carry out (a configuration that is not valid,
// a trial in progress): its message names the fields, and the command is
// answered INVALID_COMMAND with it.
type Refused struct{ Msg string }

func (e *Refused) Error() string { return e.Msg }

func (s setConfig) run(ctx context.Context, raw jsontext.Value) (any, error) {
	var p ConfigChange
	if err := decodeParams(raw, &p); err != nil {
		return nil, err
	}
	switch {
	case (len(p.Config) == 0) == (len(p.Patch) == 0):
		return nil, errorf(contracts.CodeInvalidCommand, "params: give either config (a whole configuration) or patch (a JSON merge patch), not both or neither")
	case s.plan == nil:
		return nil, errorf(contracts.CodeInternal, "setConfig: this agent keeps no configuration of its own")
	}
	plan, err := s.plan(ctx, p)
	if refused, ok := errors.AsType[*Refused](err); ok {
		_ = s.audit(ctx, contracts.AuditRefused, refused.Msg)
		return nil, errorf(contracts.CodeInvalidCommand, "%s", refused.Msg)
	}
	if err != nil {
		return nil, s.failed(ctx, err)
	}
	if err := s.audit(ctx, contracts.AuditAccepted, p.Reason); err != nil {
		return nil, err // not kept: an action not recorded is not taken
	}
	cmd := commandOf(ctx)
	if err := plan.Keep(cmd.CorrelationID, cmd.Payload.RequestedBy); err != nil {
		return nil, s.failed(ctx, err)
	}
	return setConfigResult{Restarting: true, RollbackAfter: plan.RollbackAfter, SHA256: plan.SHA256, restart: plan.Restart}, nil
}

// failed audits and answers a setConfig that could not be carried out.
func (s setConfig) failed(ctx context.Context, err error) error {
	_ = s.audit(ctx, contracts.AuditFailed, err.Error())
	return errorf(contracts.CodeInternal, "setConfig: %v", err)
}
