package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/iot-hub/agent/agent/config"
	"github.com/iot-hub/agent/agent/configstore"
	"github.com/iot-hub/agent/agent/rpc"
	"github.com/iot-hub/agent/contracts"
)

// remoteConfig is the configuration setConfig keeps (agent/configstore)
// as the agent runs: the store, and the trial of the configuration it
// runs, if it is on one.
type remoteConfig struct {
	store *configstore.Store
	trial *configstore.Trial // nil: not on trial
	note  string             // what choosing the configuration did, for the log
}

// configToRun returns the configuration the agent runs: the one it was
// started with, or the one setConfig set last, and its trial. A
// configuration on trial that does not load is rolled back.
func configToRun(started *config.Config) (*config.Config, *remoteConfig, error) {
	store, err := configstore.Open(started.StateDir, started.Path())
	if err != nil {
		return nil, nil, err
	}
	st, err := store.Begin()
	if err != nil {
		return nil, nil, err
	}
	rc := &remoteConfig{store: store, trial: st.Trial, note: st.Note}
	if st.Path == started.Path() {
		return started, rc, nil
	}
	cfg, err := config.Load(st.Path)
	if err == nil {
		return cfg, rc, nil
	}
	if st.Trial != nil {
		reason := "it does not load: " + err.Error()
		if err := store.RollBack(reason); err != nil {
			return nil, nil, err
		}
		rc.trial, rc.note = nil, "configuration rolled back: "+reason
		if st, err = store.Begin(); err != nil {
			return nil, nil, err
		}
		if st.Path == started.Path() {
			return started, rc, nil
		}
		if cfg, err = config.Load(st.Path); err == nil {
			return cfg, rc, nil
		}
	}
	rc.note = fmt.Sprintf("the configuration set remotely (%s) does not load, so the started file runs: %v", st.Path, err)
	return started, rc, nil
}

// planConfig is the rpc.Deps' SetConfig of an agent running cfg: the new
// configuration made from the change, loaded as check-config loads it
// from a file beside the store's, and refused naming the field; or kept
// on trial, and the agent restarted into it.
func (p *parts) planConfig(cfg *config.Config) func(context.Context, rpc.ConfigChange) (rpc.ConfigPlan, error) {
	return func(_ context.Context, req rpc.ConfigChange) (rpc.ConfigPlan, error) {
		if err := p.refuseOnTrial(contracts.MethodSetConfig); err != nil {
			return rpc.ConfigPlan{}, err
		}
		running, err := os.ReadFile(cfg.Path())
		if err != nil {
			return rpc.ConfigPlan{}, err
		}
		param := "params.config"
		if req.Patch != nil {
			param = "params.patch"
		}
		file, err := config.Change(running, req.Config, req.Patch)
		if err != nil {
			return rpc.ConfigPlan{}, &rpc.Refused{Msg: err.Error()}
		}
		next, err := loadCandidate(cfg.StateDir, file)
		if err != nil {
			if _, ok := errors.AsType[*config.Error](err); ok {
				return rpc.ConfigPlan{}, &rpc.Refused{Msg: config.Refusal(param, err)}
			}
			return rpc.ConfigPlan{}, err
		}
		switch {
		case next.DeviceID != cfg.DeviceID:
			return rpc.ConfigPlan{}, &rpc.Refused{Msg: param + ".deviceId: cannot be changed remotely (it names the gateway)"}
		case next.StateDir != cfg.StateDir:
			return rpc.ConfigPlan{}, &rpc.Refused{Msg: param + ".stateDir: cannot be changed remotely (the outbox and this configuration live there)"}
		}
		sum := sha256.Sum256(file)
		after := next.RPC.RollbackAfter
		return rpc.ConfigPlan{
			RollbackAfter: after.String(),
			SHA256:        hex.EncodeToString(sum[:]),
			Keep: func(correlationID, requestedBy string) error {
				return p.remote.store.Stage(file, configstore.Trial{CorrelationID: correlationID, RequestedBy: requestedBy, RollbackAfter: after})
			},
			Restart: func() { p.requestRestart(contracts.MethodSetConfig, "a new configuration, on trial") },
		}, nil
	}
}

// loadCandidate loads file as Load loads a configuration file, from a
// temporary file in stateDir (a relative path in it is then relative to
// stateDir, as it will be once kept: use absolute ones).
func loadCandidate(stateDir string, file []byte) (*config.Config, error) {
	f, err := os.CreateTemp(filepath.Join(stateDir, "config"), ".candidate-*.yaml")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(file)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return config.Load(f.Name())
}

// reportConfigRolledBack sends the audit event of a configuration's
// trial rolled back before this start, then forgets it.
func (p *parts) reportConfigRolledBack(log *slog.Logger) error {
	rb, err := p.remote.store.RolledBackTrial()
	if err != nil || rb == nil {
		return err
	}
	log.Warn("setConfig: the configuration was rolled back", "reason", rb.Reason, "correlationId", rb.CorrelationID)
	if err := p.record(rpc.Audit{CorrelationID: rb.CorrelationID, Action: contracts.MethodSetConfig,
		RequestedBy: rb.RequestedBy, Outcome: contracts.AuditRolledBack, Reason: rb.Reason}); err != nil {
		return err
	}
	return p.remote.store.ClearRolledBack()
}

// configTrial is the trial of the configuration p runs, if on one.
func (p *parts) configTrial() *trial {
	t := p.remote.trial
	if t == nil {
		return nil
	}
	store := p.remote.store
	return &trial{what: "the new configuration", passed: "the uplink connected with the new configuration", action: contracts.MethodSetConfig, correlationID: t.CorrelationID,
		requestedBy: t.RequestedBy, after: t.RollbackAfter, confirm: store.Confirm, rollBack: store.RollBack}
}
