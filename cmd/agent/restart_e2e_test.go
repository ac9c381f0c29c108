package main

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/iot-hub/agent/contracts"
)

// TestRestartAgent: restartAgent, asked over MQTT, is answered
// restarting, audited on the device's events with who asked and the
// command's correlationId, and the agent then stops cleanly with exit
// code 75. The test then does what systemd's Restart=always does (this
// machine runs no systemd: see docs/management.md): it starts the agent
// again, which answers once more.
func TestRestartAgent(t *testing.T) {
	const id = "gw-restart"
	r := launchRPCRig(t, id, "sensors:\n  - {name: sim, type: sim, interval: 100ms}\n")
	events := r.broker.Subscribe(t, r.topics.Events, 1)
	defer events.Close()
	r.waitReady(t)

	cid, body := rpcCommand(id, "restartAgent", `{"reason": "e2e: new kernel"}`, nil)
	r.send(t, body, cid, nil)
	resp, m := r.answer(t, cid)
	if resp.Status != contracts.StatusSuccess || !strings.Contains(string(m.Payload), `"restarting":true`) {
		t.Fatalf("restartAgent answered %s", m.Payload)
	}
	var audit *contracts.DeviceManagementAudit
	for deadline := time.Now().Add(rpcWait); audit == nil; time.Sleep(20 * time.Millisecond) {
		for _, e := range events.Messages() {
			if msg, err := contracts.Decode(e.Payload); err == nil {
				if a, ok := msg.(*contracts.DeviceManagementAudit); ok && a.CorrelationID == cid {
					audit = a
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no device.management.audit for %s on %s", cid, r.topics.Events)
		}
	}
	if p := audit.Payload; p.Action != contracts.MethodRestartAgent || p.RequestedBy != "e2e-test" || p.Outcome != contracts.AuditAccepted ||
		p.Reason != "e2e: new kernel" || p.DeviceID != id {
		t.Errorf("audit %+v; want restartAgent accepted, requested by e2e-test, with the reason", p)
	}

	r.agent.waitExit(t, 30*time.Second, "the agent did not stop for restartAgent")
	if exit, ok := errors.AsType[*exec.ExitError](r.agent.err); !ok || exit.ExitCode() != exitRestart {
		t.Fatalf("the agent exited with %v; want exit code %d", r.agent.err, exitRestart)
	}
	if log := r.agent.stderr.String(); !strings.Contains(log, `"msg":"agent restarting: restartAgent","reason":"e2e: new kernel"`) || !strings.Contains(log, `"msg":"agent stopped"`) {
		t.Errorf("the log does not show a clean stop for restartAgent:\n%s", log)
	}

	// Restart=always.
	r.agent = startAgent(t, r.config)
	r.waitReady(t)
}
