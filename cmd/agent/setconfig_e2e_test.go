package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/config"
	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/internal/mqtttest"
)

// setConfigRig is an rpcRig whose agent takes setConfig, with the
// device's events watched for the audit events.
type setConfigRig struct {
	*rpcRig
	events *mqtttest.Subscriber
}

func launchSetConfigRig(t *testing.T, id string) *setConfigRig {
	t.Helper()
	r := &setConfigRig{rpcRig: launchRPCRig(t, id, "sensors:\n  - {name: sim, type: sim, interval: 200ms}\n")}
	r.events = r.broker.Subscribe(t, r.topics.Events, 1)
	t.Cleanup(r.events.Close)
	r.waitReady(t)
	return r
}

// setConfig sends setConfig with params and returns its answer and the
// command's correlationId.
func (r *setConfigRig) setConfig(t *testing.T, params string) (*contracts.DeviceResponseRPC, string) {
	t.Helper()
	cid, body := rpcCommand(r.id, "setConfig", params, nil)
	r.send(t, body, cid, nil)
	resp, _ := r.answer(t, cid)
	return resp, cid
}

// audit waits up to within for the audit event of the command cid with
// outcome, and returns it.
func (r *setConfigRig) audit(t *testing.T, cid string, outcome contracts.AuditOutcome, within time.Duration) contracts.DeviceManagementAuditPayload {
	t.Helper()
	for deadline := time.Now().Add(within); ; time.Sleep(20 * time.Millisecond) {
		for _, e := range r.events.Messages() {
			if msg, err := contracts.Decode(e.Payload); err == nil {
				if a, ok := msg.(*contracts.DeviceManagementAudit); ok && a.CorrelationID == cid && a.Payload.Outcome == outcome {
					return a.Payload
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no device.management.audit %s for %s on %s within %v", outcome, cid, r.topics.Events, within)
		}
	}
}

// restarted waits for the agent to exit for a restart (code 75) and
// starts it again, as systemd's Restart=always does (the machines the
// tests run on have no systemd: docs/management.md).
func (r *setConfigRig) restarted(t *testing.T, why string) {
	t.Helper()
	r.agent.waitExit(t, 30*time.Second, why)
	if exit, ok := errors.AsType[*exec.ExitError](r.agent.err); !ok || exit.ExitCode() != exitRestart {
		t.Fatalf("%s: the agent exited with %v; want exit code %d\n%s", why, r.agent.err, exitRestart, r.agent.stderr.String())
	}
	r.agent = startAgent(t, r.config)
}

// runningConfig returns getConfig's config.
func (r *setConfigRig) runningConfig(t *testing.T) map[string]any {
	t.Helper()
	c, _ := r.call(t, "getConfig", "")["config"].(map[string]any)
	return c
}

// at returns the value at a dotted path of a JSON object.
func at(doc map[string]any, path string) any {
	var v any = doc
	for k := range strings.SplitSeq(path, ".") {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	return v
}

// TestSetConfigRefusesInvalid: a configuration that check-config would
// refuse is refused INVALID_COMMAND naming the field, audited refused,
// and nothing changes: the agent runs on as it was.
func TestSetConfigRefusesInvalid(t *testing.T) {
	r := launchSetConfigRig(t, "gw-setconfig-invalid")
	for _, c := range []struct{ params, names string }{
		{`{"patch": {"uplink": {"mqtt": {"broker": "ftp://broker:21"}}}}`, "params.patch.uplink.mqtt.broker: "},
		{`{"patch": {"rpc": {"concurency": 2}}}`, "params.patch.rpc.concurency: unknown key"},
		{`{"patch": {"sensors": [{"name": "t", "type": "thermal", "interval": "1s", "timeout": "5s"}]}}`, "params.patch.sensors[0].timeout: "},
		{`{"config": {"deviceId": "gw-other", "stateDir": "/tmp/x", "uplink": {"mqtt": {"broker": "mqtt://b:1883"}}}}`, "params.config.deviceId: cannot be changed remotely"},
		{`{"patch": {"uplink": {"mqtt": {"broker": "mqtt://b:1883"}}}, "config": {}}`, "params: give either config"},
	} {
		resp, cid := r.setConfig(t, c.params)
		if resp.Status != contracts.StatusError || resp.Error.Code != contracts.CodeInvalidCommand || !strings.Contains(resp.Error.Message, c.names) {
			t.Errorf("setConfig %s: answered %s %+v; want INVALID_COMMAND naming %q", c.params, resp.Status, resp.Error, c.names)
			continue
		}
		if !strings.HasPrefix(c.names, "params: ") { // refused before the method ran
			if a := r.audit(t, cid, contracts.AuditRefused, rpcWait); !strings.Contains(a.Reason, c.names) || a.Action != contracts.MethodSetConfig {
				t.Errorf("audit %+v; want refused, naming %q", a, c.names)
			}
		}
	}
	select {
	case <-r.agent.done:
		t.Fatalf("the agent stopped: %v", r.agent.err)
	default:
	}
	if got := at(r.runningConfig(t), "uplink.mqtt.broker"); got != r.broker.URL() {
		t.Errorf("after the refusals the agent runs broker %v; want %s", got, r.broker.URL())
	}
	if _, err := os.Stat(filepath.Join(r.stateDir, "config", "agent.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused configuration was kept: %v", err)
	}
}

// TestSetConfigKeepsOneThatConnects: a patch is applied by a restart, on
// trial; connected, it stays (audited done) and getConfig shows it.
func TestSetConfigKeepsOneThatConnects(t *testing.T) {
	r := launchSetConfigRig(t, "gw-setconfig-good")
	resp, cid := r.setConfig(t, `{"patch": {"rpc": {"concurrency": 3}, "log": {"ringBytes": "128KiB"}}, "reason": "e2e"}`)
	if resp.Status != contracts.StatusSuccess {
		t.Fatalf("setConfig answered %s %+v", resp.Status, resp.Error)
	}
	res := result(t, resp)
	if res["restarting"] != true || res["rollbackAfter"] != "5m0s" || len(res["sha256"].(string)) != 64 {
		t.Errorf("result %v; want restarting, rollbackAfter 5m0s, a sha256", res)
	}
	if a := r.audit(t, cid, contracts.AuditAccepted, rpcWait); a.RequestedBy != "e2e-test" || a.Reason != "e2e" {
		t.Errorf("audit accepted %+v", a)
	}
	r.restarted(t, "the agent did not restart into the new configuration")
	r.waitReady(t)
	r.audit(t, cid, contracts.AuditDone, 30*time.Second)
	c := r.runningConfig(t)
	if got := at(c, "rpc.concurrency"); got != float64(3) {
		t.Errorf("rpc.concurrency = %v; want 3", got)
	}
	if got := at(c, "log.ringBytes"); got != "128KiB" {
		t.Errorf("log.ringBytes = %v; want 128KiB", got)
	}
	if _, err := os.Stat(filepath.Join(r.stateDir, "config", "trial.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the trial did not end: %v", err)
	}
}

// TestSetConfigRollsBackOneThatCannotConnect: a configuration whose
// broker refuses the agent is rolled back by the agent itself within
// rpc.rollbackAfter, and the rolledBack event arrives once it is back on
// the configuration before.
func TestSetConfigRollsBackOneThatCannotConnect(t *testing.T) {
	r := launchSetConfigRig(t, "gw-setconfig-broken")
	dead := "mqtt://" + freeAddr(t) // nothing listens
	resp, cid := r.setConfig(t, `{"patch": {"uplink": {"mqtt": {"broker": "`+dead+`"}}, "rpc": {"rollbackAfter": "3s"}}}`)
	if resp.Status != contracts.StatusSuccess {
		t.Fatalf("setConfig answered %s %+v", resp.Status, resp.Error)
	}
	r.restarted(t, "the agent did not restart into the new configuration")
	began := time.Now()
	r.restarted(t, "the agent did not roll back and restart")
	rolledBackIn := time.Since(began)
	t.Logf("rolled back %v after the start with the broken configuration (rollbackAfter 3s)", rolledBackIn.Round(time.Millisecond))
	if rolledBackIn > 3*time.Second+10*time.Second {
		t.Errorf("rolled back %v after the start; want about rollbackAfter, 3s", rolledBackIn)
	}
	r.waitReady(t)
	a := r.audit(t, cid, contracts.AuditRolledBack, 30*time.Second)
	if !strings.Contains(a.Reason, "did not connect within 3s") || a.RequestedBy != "e2e-test" {
		t.Errorf("audit rolledBack %+v; want the reason and who asked", a)
	}
	if got := at(r.runningConfig(t), "uplink.mqtt.broker"); got != r.broker.URL() {
		t.Errorf("after the rollback the agent runs broker %v; want %s", got, r.broker.URL())
	}
}

// TestSetConfigKilled: the agent is killed (SIGKILL) at moments through
// a setConfig, from the command's arrival to the restart it asks for,
// under a supervisor that starts it again after any exit as systemd's
// Restart=always does. Each time it comes back answering, its trial (if
// the configuration was kept before the kill) ended with the new
// configuration connected, and running either the old configuration or
// the new one: never left unreachable, never half-changed.
func TestSetConfigKilled(t *testing.T) {
	t.Parallel() // it waits most of its time: beside the other slow end-to-end tests
	r := launchSetConfigRig(t, "gw-setconfig-kill")
	sup := supervise(t, r.rpcRig, nil)
	old := float64(8) // rpc.concurrency's default
	for i, delay := range []time.Duration{0, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond, 200 * time.Millisecond} {
		asked := float64(2 + i)
		cid, body := rpcCommand(r.id, "setConfig", fmt.Sprintf(`{"patch": {"rpc": {"concurrency": %d}}}`, 2+i), nil)
		r.send(t, body, cid, nil)
		time.Sleep(delay)
		sup.kill()
		got, _ := sup.settled(t, r.rpcRig).(float64)
		t.Logf("killed %v after the command: runs rpc.concurrency %v (had %v, asked %v)", delay, got, old, asked)
		if got != old && got != asked {
			t.Fatalf("killed %v after the command: runs rpc.concurrency %v; want %v (old) or %v (new)", delay, got, old, asked)
		}
		old = got
	}
}

// supervisor starts the agent of an rpcRig again whenever it exits, as
// systemd's Restart=always does, until the test ends.
type supervisor struct {
	t      *testing.T
	config string
	env    []string // the agents' environment besides the test's
	mu     sync.Mutex
	cur    *agentProc
	starts int
}

func supervise(t *testing.T, r *rpcRig, env []string) *supervisor {
	s := &supervisor{t: t, config: r.config, env: env, cur: r.agent}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			s.mu.Lock()
			p := s.cur
			s.mu.Unlock()
			select {
			case <-stop:
				return
			case <-p.done:
			}
			time.Sleep(100 * time.Millisecond)
			select {
			case <-stop:
				return
			default:
			}
			next := startAgentWith(t, s.config, s.env...)
			s.mu.Lock()
			s.cur, s.starts = next, s.starts+1
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
	return s
}

// kill kills the running agent with SIGKILL.
func (s *supervisor) kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.cur.cmd.Process.Signal(syscall.SIGKILL)
	<-s.cur.done
}

// settled waits until the agent answers, is on no trial, and has not
// restarted for a second, and returns the rpc.concurrency it runs.
func (s *supervisor) settled(t *testing.T, r *rpcRig) any {
	t.Helper()
	trial := filepath.Join(r.stateDir, "config", "trial.json")
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		s.mu.Lock()
		starts := s.starts
		s.mu.Unlock()
		cid, body := rpcCommand(r.id, "getConfig", "", nil)
		r.send(t, body, cid, nil)
		m, ok := r.client.waitN(1, 2*time.Second, r.answerTo(cid))
		if !ok {
			continue
		}
		resp := r.checkAnswer(t, m[0], cid)
		if _, err := os.Stat(trial); err == nil || resp.Status != contracts.StatusSuccess {
			continue
		}
		time.Sleep(time.Second)
		s.mu.Lock()
		again := s.starts != starts
		s.mu.Unlock()
		if !again {
			c, _ := result(t, resp)["config"].(map[string]any)
			return at(c, "rpc.concurrency")
		}
	}
	t.Fatalf("the agent did not settle, answering and on no trial, within 60 s")
	return nil
}

// TestSetConfigSwitchesThePhase: the migration's phase (issue 13) is
// switched by setConfig, a patch of uplink.phase sent over MQTT in phase
// A: the agent restarts in phase B on trial, Kafka connects, the trial
// ends, and getDeviceState over Kafka says phase B.
func TestSetConfigSwitchesThePhase(t *testing.T) {
	r := startMigrationRig(t, "gw-setconfig-phase", "A", 1)
	waitMore(t, "phase A, MQTT", func() []int { return r.mqttSeqs(t) }, 5, 30*time.Second)
	answer := r.callMQTT(t, "setConfig", `{"patch": {"uplink": {"phase": "B"}}, "reason": "migration to Kafka"}`)
	if m, err := contracts.Decode(answer); err != nil || m.(*contracts.DeviceResponseRPC).Status != contracts.StatusSuccess {
		t.Fatalf("setConfig answered %s (%v)", answer, err)
	}
	r.agent.waitExit(t, 30*time.Second, "the agent did not restart for the new phase")
	r.agent = startAgent(t, r.config) // Restart=always
	if ph := r.migrationState(t, config.UplinkKafka)["phase"]; ph != "B" {
		t.Fatalf("after setConfig getDeviceState over Kafka: migration.phase = %v; want B", ph)
	}
	trial := filepath.Join(r.state, "config", "trial.json")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(trial); errors.Is(err, os.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("phase B connected, and still on trial 30 s later")
		}
	}
	r.agent.waitLog(t, `"msg":"setConfig: the new configuration connected; it stays"`, 5*time.Second)
}
