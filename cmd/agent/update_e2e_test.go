package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/config"
	"github.com/iot-hub/agent/agent/update"
	"github.com/iot-hub/agent/contracts"
)

// Test-only behaviour of a test binary run as an installed update (its
// slot in update.SlotEnv): the version it reports, and a broker where
// nothing listens, for a new version that never connects.
const (
	slotVersionEnv = "IOT_HUB_AGENT_TEST_SLOT_VERSION"
	slotBrokerEnv  = "IOT_HUB_AGENT_TEST_SLOT_BROKER"
)

// slotTestHooks applies them in a child agent that is a slot's binary.
func slotTestHooks() {
	if os.Getenv(update.SlotEnv) == "" {
		return
	}
	if v := os.Getenv(slotVersionEnv); v != "" {
		version = v
	}
	if b := os.Getenv(slotBrokerEnv); b != "" {
		configTestHook = func(c *config.Config) { c.Uplink.MQTT.Broker = b }
	}
}

// updateRig is an agent with updateAgent on (a key pinned), a release
// server over HTTPS, and a supervisor that starts the agent again after
// any exit, as systemd's Restart=always does.
type updateRig struct {
	*setConfigRig
	priv ed25519.PrivateKey
	srv  *httptest.Server
	mu   sync.Mutex
	file map[string][]byte // served, by path
	sup  *supervisor
}

func launchUpdateRig(t *testing.T, id string, slotEnv ...string) *updateRig {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	u := &updateRig{priv: priv, file: map[string][]byte{}}
	u.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		b, ok := u.file[r.URL.Path]
		u.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		http.ServeContent(w, r, "agent", time.Time{}, strings.NewReader(string(b)))
	}))
	t.Cleanup(u.srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: u.srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	tail := fmt.Sprintf("update: {publicKey: %s, maxBytes: 256MiB, caFile: %s}\nrpc: {rollbackAfter: 3s}\nsensors:\n  - {name: sim, type: sim, interval: 200ms}\n",
		base64.StdEncoding.EncodeToString(pub), ca)
	u.setConfigRig = &setConfigRig{rpcRig: launchRPCRig(t, id, tail)}
	u.events = u.broker.Subscribe(t, u.topics.Events, 1)
	t.Cleanup(u.events.Close)
	u.waitReady(t)
	u.sup = supervise(t, u.rpcRig, slotEnv)
	return u
}

// release serves body at path and returns updateAgent's params for it,
// its sha256 and signature those of signed (body itself unless given).
func (u *updateRig) release(path string, body []byte, signed []byte, key ed25519.PrivateKey, version string) string {
	u.mu.Lock()
	u.file[path] = body
	u.mu.Unlock()
	if signed == nil {
		signed = body
	}
	d := sha256.Sum256(signed)
	return fmt.Sprintf(`{"url": %q, "sha256": %q, "signature": %q, "version": %q}`, u.srv.URL+path, hex.EncodeToString(d[:]),
		base64.StdEncoding.EncodeToString(ed25519.Sign(key, d[:])), version)
}

// updateAgent asks for an update and checks it was accepted; it returns
// the command's correlationId.
func (u *updateRig) updateAgent(t *testing.T, params string) string {
	t.Helper()
	cid, body := rpcCommand(u.id, "updateAgent", params, nil)
	u.send(t, body, cid, nil)
	resp, _ := u.answer(t, cid)
	if resp.Status != contracts.StatusSuccess {
		t.Fatalf("updateAgent answered %s %+v", resp.Status, resp.Error)
	}
	return cid
}

// state returns getDeviceState's agentVersion and agentSlot, once the
// agent answers (it may be restarting).
func (u *updateRig) state(t *testing.T) (version, slot any) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		cid, body := rpcCommand(u.id, "getDeviceState", "", nil)
		u.send(t, body, cid, nil)
		if m, ok := u.client.waitN(1, 2*time.Second, u.answerTo(cid)); ok {
			r := result(t, u.checkAnswer(t, m[0], cid))
			return r["agentVersion"], r["agentSlot"]
		}
	}
	t.Fatal("the agent did not answer getDeviceState within 60 s")
	return nil, nil
}

func testBinary(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestUpdateAgentRefusesBadReleases: a wrong hash, a wrong signature and
// a truncated download are each refused, audited failed with the
// reason, and the agent runs on as it was, nothing installed.
func TestUpdateAgentRefusesBadReleases(t *testing.T) {
	u := launchUpdateRig(t, "gw-update-refused")
	good := testBinary(t)
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	for _, c := range []struct {
		name, params, reason string
	}{
		{"wrong hash", u.release("/wrong-hash", good, []byte("another binary"), u.priv, "v9"), "SHA-256 does not match"},
		{"wrong signature", u.release("/wrong-signature", good, nil, otherKey, "v9"), "signature does not verify"},
		{"truncated", u.release("/truncated", good[:len(good)-4096], good, u.priv, "v9"), "SHA-256 does not match"},
		{"missing", u.release("/missing", nil, good, u.priv, "v9"), ""},
	} {
		if c.name == "missing" {
			u.mu.Lock()
			delete(u.file, "/missing")
			u.mu.Unlock()
			c.reason = "404"
		}
		cid := u.updateAgent(t, c.params)
		if a := u.audit(t, cid, contracts.AuditFailed, 60*time.Second); !strings.Contains(a.Reason, c.reason) {
			t.Errorf("%s: audit failed %q; want the reason, %q", c.name, a.Reason, c.reason)
		}
	}
	if v, slot := u.state(t); v != version || slot != "packaged" {
		t.Errorf("after the refusals: version %v, slot %v; want %s, packaged", v, slot, version)
	}
	u.sup.mu.Lock()
	starts := u.sup.starts
	u.sup.mu.Unlock()
	if starts != 0 {
		t.Errorf("the agent restarted %d times; want none", starts)
	}
}

// TestUpdateAgentInstalls: a good release is installed in slot a; the
// agent restarts into it, connects, and reports the new version; the
// update is audited done.
func TestUpdateAgentInstalls(t *testing.T) {
	u := launchUpdateRig(t, "gw-update-good", slotVersionEnv+"=v9.9.9-e2e")
	cid := u.updateAgent(t, u.release("/good", testBinary(t), nil, u.priv, "v9.9.9-e2e"))
	u.audit(t, cid, contracts.AuditDone, 90*time.Second)
	if v, slot := u.state(t); v != "v9.9.9-e2e" || slot != "a" {
		t.Fatalf("after the update: version %v, slot %v; want v9.9.9-e2e in slot a", v, slot)
	}
}

// TestUpdateAgentRollsBackOneThatExitsAtStart: a release that exits as
// it starts is rolled back after 3 starts, by the agent alone, and the
// rolledBack event arrives from the version before.
func TestUpdateAgentRollsBackOneThatExitsAtStart(t *testing.T) {
	u := launchUpdateRig(t, "gw-update-crash")
	cid := u.updateAgent(t, u.release("/crash", []byte("#!/bin/sh\necho 'new version: cannot start' >&2\nexit 3\n"), nil, u.priv, "v9-crash"))
	a := u.audit(t, cid, contracts.AuditRolledBack, 90*time.Second)
	if !strings.Contains(a.Reason, "stopped 3 times") {
		t.Errorf("audit rolledBack %q; want the reason", a.Reason)
	}
	if v, slot := u.state(t); v != version || slot != "packaged" {
		t.Errorf("after the rollback: version %v, slot %v; want %s, packaged", v, slot, version)
	}
}

// TestUpdateAgentRollsBackOneThatNeverConnects: a release that runs but
// cannot reach the broker is rolled back after rpc.rollbackAfter (3 s).
func TestUpdateAgentRollsBackOneThatNeverConnects(t *testing.T) {
	u := launchUpdateRig(t, "gw-update-noconnect", slotVersionEnv+"=v9-noconnect", slotBrokerEnv+"=mqtt://"+freeAddr(t))
	cid := u.updateAgent(t, u.release("/noconnect", testBinary(t), nil, u.priv, "v9-noconnect"))
	a := u.audit(t, cid, contracts.AuditRolledBack, 90*time.Second)
	if !strings.Contains(a.Reason, "did not connect within 3s") {
		t.Errorf("audit rolledBack %q; want the reason", a.Reason)
	}
	if v, slot := u.state(t); v != version || slot != "packaged" {
		t.Errorf("after the rollback: version %v, slot %v; want %s, packaged", v, slot, version)
	}
}
