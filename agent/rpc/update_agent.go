package rpc

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/url"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/iot-hub/agent/contracts"
)

// updateAgent answers updateAgent: the request is checked and audited
// (accepted), and the new binary is then downloaded, verified and
// installed in the background (agent/update); the agent restarts into it
// on trial. How it ends comes as audit events with the command's
// correlationId: done once the new version connected, failed (a wrong
// hash, a bad signature, a download that did not complete) or rolledBack,
// each with the reason.
type updateAgent struct {
	start func(ctx context.Context, req UpdateRequest) error // nil: off
	audit auditor
}

// UpdateRequest is updateAgent's params, and who asked.
type UpdateRequest struct {
	// URL is the binary's, https.
	URL string `json:"url"`
	// SHA256 is the binary's SHA-256, 64 hex digits.
	SHA256 string `json:"sha256"`
	// Signature is the ed25519 signature of the SHA-256's 32 bytes by the
	// key update.publicKey pins, base64.
	Signature string `json:"signature"`
	// Version is the new binary's version.
	Version string `json:"version"`
	// Reason says why, for the audit event and the log.
	Reason string `json:"reason,omitzero"`

	// CorrelationID and RequestedBy are the command's.
	CorrelationID string `json:"-"`
	RequestedBy   string `json:"-"`
}

// updateResult is the result of updateAgent.
type updateResult struct {
	// Accepted is true: the update goes on in the background.
	Accepted bool   `json:"accepted"`
	Version  string `json:"version"`
}

func (u updateAgent) run(ctx context.Context, raw jsontext.Value) (any, error) {
	if u.start == nil {
		return nil, errorf(contracts.CodeMethodNotFound, "updateAgent is off on this gateway until its configuration pins the key releases are signed with (update.publicKey)")
	}
	var p UpdateRequest
	if err := decodeParams(raw, &p); err != nil {
		return nil, err
	}
	if err := p.check(); err != nil {
		return nil, err
	}
	cmd := commandOf(ctx)
	p.CorrelationID, p.RequestedBy = cmd.CorrelationID, cmd.Payload.RequestedBy
	if err := u.audit(ctx, contracts.AuditAccepted, p.Reason); err != nil {
		return nil, err // not started: an action not recorded is not taken
	}
	if err := u.start(ctx, p); err != nil {
		if refused, ok := errors.AsType[*Refused](err); ok {
			_ = u.audit(ctx, contracts.AuditRefused, refused.Msg)
			return nil, errorf(contracts.CodeInvalidCommand, "%s", refused.Msg)
		}
		_ = u.audit(ctx, contracts.AuditFailed, err.Error())
		return nil, errorf(contracts.CodeInternal, "updateAgent: %v", err)
	}
	return updateResult{Accepted: true, Version: p.Version}, nil
}

// check refuses params that cannot name a release, naming the field.
func (p UpdateRequest) check() error {
	if u, err := url.Parse(p.URL); err != nil || u.Scheme != "https" || u.Host == "" {
		return errorf(contracts.CodeInvalidCommand, "params.url: %q: want an https:// URL", p.URL)
	}
	if b, err := hex.DecodeString(p.SHA256); err != nil || len(b) != 32 {
		return errorf(contracts.CodeInvalidCommand, "params.sha256: want 64 hex digits")
	}
	if b, err := base64.StdEncoding.DecodeString(p.Signature); err != nil || len(b) != 64 {
		return errorf(contracts.CodeInvalidCommand, "params.signature: want an ed25519 signature, 64 bytes in base64")
	}
	if p.Version == "" || len(p.Version) > 64 {
		return errorf(contracts.CodeInvalidCommand, "params.version: want 1 to 64 characters")
	}
	return nil
}
