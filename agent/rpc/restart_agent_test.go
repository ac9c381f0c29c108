package rpc

import (
	"testing"
	"time"

	"github.com/iot-hub/agent/contracts"
)

// TestRestartAgent: restartAgent records who asked in an audit event on
// the device's events, with the command's correlationId, then asks the
// agent to restart, and answers restarting; an agent that cannot
// restart itself answers INTERNAL and audits nothing.
func TestRestartAgent(t *testing.T) {
	reasons := make(chan string, 2) // the restart comes once the answer is in: after the ack
	r := newRig(t, Config{}, func(d *Deps) { d.Restart = func(reason string) { reasons <- reason } })
	payload, id := command(t, contracts.MethodRestartAgent, `{"reason": "new kernel"}`, nil)
	o := r.call(payload)
	if o.answer == nil || o.answer.Status != contracts.StatusSuccess || string(o.answer.Payload.Result) != `{"restarting":true}` {
		t.Fatalf("restartAgent answered %v", o)
	}
	if len(o.audits) != 1 {
		t.Fatalf("%d audit events; want 1", len(o.audits))
	}
	a := o.audits[0]
	if a.CorrelationID != id || a.Payload.Action != contracts.MethodRestartAgent || a.Payload.RequestedBy != "tester" ||
		a.Payload.Outcome != contracts.AuditAccepted || a.Payload.Reason != "new kernel" || a.Payload.DeviceID != device {
		t.Errorf("audit event %+v; want restartAgent accepted, requested by tester, for %s, reason new kernel", a.Payload, id)
	}
	select {
	case reason := <-reasons:
		if reason != "new kernel" {
			t.Errorf("restart asked with %q; want new kernel", reason)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("restart not asked")
	}
	if len(reasons) != 0 {
		t.Errorf("restart asked again: %q", <-reasons)
	}

	none := newRig(t, Config{})
	payload, _ = command(t, contracts.MethodRestartAgent, "", nil)
	if o := none.call(payload); o.answer == nil || o.answer.Error == nil || o.answer.Error.Code != contracts.CodeInternal || len(o.audits) != 0 {
		t.Errorf("restartAgent with no way to restart: %v; want INTERNAL, no audit", o)
	}
}
