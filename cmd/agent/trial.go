package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/iot-hub/agent/agent/rpc"
	"github.com/iot-hub/agent/contracts"
)

// trial is a change this run is on trial with: a configuration setConfig
// set, or a binary updateAgent installed. It passes once the uplink
// connects; it is rolled back when after passes first, and the agent
// restarts into what was before.
type trial struct {
	what          string // for the log: "the new configuration", "version v2"
	passed        string // the done event's reason
	action        contracts.Method
	correlationID string
	requestedBy   string
	after         time.Duration
	confirm       func() error
	rollBack      func(reason string) error
}

// trialWatch watches p's trial: poll ticks until the uplink connects,
// expired fires when the trial's time is up. Without a trial both are
// nil, which a select never receives from.
type trialWatch struct {
	poll    <-chan time.Time
	expired <-chan time.Time
	stop    func()
}

// watchTrial starts watching p's trial, if it has one.
func (p *parts) watchTrial() trialWatch {
	t := p.trial.Load()
	if t == nil {
		return trialWatch{stop: func() {}}
	}
	tick := time.NewTicker(250 * time.Millisecond)
	limit := time.NewTimer(t.after)
	return trialWatch{poll: tick.C, expired: limit.C, stop: func() { tick.Stop(); limit.Stop() }}
}

// trialConnected ends the trial as passed once the uplink is connected,
// audited done; it reports whether it did.
func (p *parts) trialConnected(log *slog.Logger) bool {
	t := p.trial.Load()
	if !p.up.state().Connected {
		return false
	}
	if err := t.confirm(); err != nil {
		log.Error("trial: could not be ended; it goes on", "what", t.what, "err", err)
		return false
	}
	log.Info(fmt.Sprintf("%s: %s connected; it stays", t.action, t.what), "correlationId", t.correlationID)
	p.audit(log, rpc.Audit{CorrelationID: t.correlationID, Action: t.action, RequestedBy: t.requestedBy,
		Outcome: contracts.AuditDone, Reason: t.passed})
	p.trial.Store(nil)
	return true
}

// trialExpired rolls the trial's change back: the uplink did not
// connect in time. The agent then restarts into what was before, which
// sends the rolledBack event once it runs.
func (p *parts) trialExpired(log *slog.Logger) {
	t := p.trial.Load()
	reason := fmt.Sprintf("the uplink did not connect within %v (rpc.rollbackAfter)", t.after)
	if err := t.rollBack(reason); err != nil {
		log.Error("trial: roll back", "what", t.what, "err", err) // the next starts roll it back
		return
	}
	log.Warn(fmt.Sprintf("%s: %s rolled back; restarting with what was before", t.action, t.what), "reason", reason, "correlationId", t.correlationID)
}

// auditTimeout bounds the wait for an audit event to be durable in the
// outbox.
const auditTimeout = 30 * time.Second

// record puts a management action's outcome in the outbox as an audit
// event, durable when it returns nil.
func (p *parts) record(a rpc.Audit) error {
	ctx, cancel := context.WithTimeout(context.Background(), auditTimeout)
	defer cancel()
	return p.dispatcher.Record(ctx, a)
}

// audit is record, logging a failure.
func (p *parts) audit(log *slog.Logger, a rpc.Audit) {
	if err := p.record(a); err != nil {
		log.Error("audit", "action", a.Action, "outcome", a.Outcome, "err", err)
	}
}

// refuseOnTrial refuses a change while this run is on trial with one.
func (p *parts) refuseOnTrial(method contracts.Method) error {
	if t := p.trial.Load(); t != nil {
		return &rpc.Refused{Msg: fmt.Sprintf("%s: %s (%s %s) is on trial until the uplink connects with it, or it is rolled back", method, t.what, t.action, t.correlationID)}
	}
	return nil
}
