package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/certs"
	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/internal/mqtttest"
)

// Certificate rotation end to end: mosquitto requires a client
// certificate from its CA (require_certificate, use_identity_as_username),
// and a test "backend CA" answers the agent's certificate.csr.created with
// a certificate.issued signed by that CA.

// Environment of the agent under test (see certsE2EHook).
const (
	envCrashAt = "IOT_HUB_TEST_CRASH_AT" // a rotation step at which the agent kills itself
)

// certsE2EHook is the agent's certsTestHook in these tests: requests
// are looked for often, and with envCrashAt the agent dies by SIGKILL at
// that step, as a power cut would.
func certsE2EHook(c *certs.RotatorConfig) {
	c.RequestPoll = 100 * time.Millisecond
	if step := os.Getenv(envCrashAt); step != "" {
		c.CrashPoint = func(s string) {
			if s == step {
				fmt.Fprintf(os.Stderr, "e2e: killing the agent at rotation step %q\n", s)
				_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {} // the signal is on its way
			}
		}
	}
}

// certRig is mosquitto requiring client certificates, an agent whose
// factory pair that broker's CA signed, and the backend's side.
type certRig struct {
	id       string
	topics   contracts.MQTTTopics
	broker   *mqtttest.Broker
	config   string
	stateDir string
	keyFile  string   // the factory key, which the config names
	factory  *big.Int // the factory certificate's serial
	events   *mqtttest.Subscriber
	replies  *mqtttest.Subscriber
	issue    func(t *testing.T, serial *big.Int) // see answerCSRs
}

func startCertRig(t *testing.T, id string) *certRig {
	t.Helper()
	b := mqtttest.Start(t, mqtttest.Options{RequireClientCert: true, ClientCN: "backend-e2e"})
	if b.Embedded() {
		t.Log("these certificate tests run against the embedded broker, not mosquitto")
	}
	r := &certRig{id: id, broker: b}
	r.topics, _ = contracts.DeviceTopics(id)
	// The factory pair: a key made here, a certificate for it from the
	// broker's CA, as a factory would provision.
	dir := t.TempDir()
	pair, certPEM, keyPEM := b.ClientCert(t, id, time.Now().Add(-time.Hour), time.Now().Add(90*24*time.Hour))
	r.factory = pair.Leaf.SerialNumber
	certFile, keyFile := filepath.Join(dir, "device.pem"), filepath.Join(dir, "device.key")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	r.keyFile, r.stateDir = keyFile, filepath.Join(t.TempDir(), "state")
	r.config = writeConfig(t, fmt.Sprintf(`
deviceId: %s
stateDir: %s
log: {level: debug, format: json}
uplink:
  mqtt:
    broker: %s
    caFile: %s
    certFile: %s
    keyFile: %s
    connectTimeout: 5s
    backoffMin: 100ms
    backoffMax: 2s
certificates:
  retryMin: 2s
  retryMax: 4s
`, id, r.stateDir, b.URL(), b.CAFile, certFile, keyFile))
	r.events = b.Subscribe(t, r.topics.Events, 1)
	r.replies = b.Subscribe(t, "e2e/cert-replies/"+id, 1)
	return r
}

// event decodes the messages of the events topic and returns those of
// type T.
func eventsOf[T contracts.Message](t *testing.T, s *mqtttest.Subscriber) []T {
	t.Helper()
	var out []T
	for _, m := range s.Messages() {
		msg, err := contracts.Decode(m.Payload)
		if err != nil {
			t.Fatalf("the agent published an invalid event: %v\n%s", err, m.Payload)
		}
		if v, ok := msg.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

// waitEvent waits up to within for an event of type T that match accepts.
func waitEvent[T contracts.Message](t *testing.T, s *mqtttest.Subscriber, within time.Duration, match func(T) bool) T {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		for _, e := range eventsOf[T](t, s) {
			if match == nil || match(e) {
				return e
			}
		}
		if time.Now().After(deadline) {
			var zero T
			t.Fatalf("no %T within %v", zero, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// answerCSRs is the backend's CA until the test ends: it answers the
// first certificate.csr.created of a rotation with a certificate for its
// key from the broker's CA, and every copy of that CSR (same
// correlationId) that follows with the same certificate.issued again, as
// an idempotent backend does. The agent sends its CSR again while no
// answer reaches it: an answer published while the agent was not
// subscribed (between a broker restart without persistence, which Revoke
// does, and the agent's new subscription) is lost, and only the copy
// brings it. r.issue, when set, runs once per rotation with the new
// serial, before the first answer (to revoke it).
func (r *certRig) answerCSRs(t *testing.T) {
	stop := make(chan struct{})
	done := make(chan struct{})
	t.Cleanup(func() { close(stop); <-done })
	go func() {
		defer close(done)
		answers := map[string][]byte{} // certificate.issued, by correlationId
		read := 0                      // events looked at
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			events := r.events.Messages()
			for _, m := range events[read:] {
				msg, err := contracts.Decode(m.Payload)
				csr, ok := msg.(*contracts.CertificateCSRCreated)
				if err != nil || !ok {
					continue
				}
				answer, ok := answers[csr.CorrelationID]
				if !ok {
					if answer = r.answer(t, csr); answer == nil {
						continue
					}
					answers[csr.CorrelationID] = answer
				}
				r.broker.Publish(t, r.topics.Commands, answer, 1, false, nil)
			}
			read = len(events)
		}
	}()
}

// answer signs the CSR (after r.issue, when set) and returns the
// certificate.issued that answers it; nil, the test failed, when the CSR
// is bad.
func (r *certRig) answer(t *testing.T, csr *contracts.CertificateCSRCreated) []byte {
	b, _ := pem.Decode([]byte(csr.Payload.CSRPEM))
	if b == nil {
		t.Errorf("CSR is not PEM: %q", csr.Payload.CSRPEM)
		return nil
	}
	req, err := x509.ParseCertificateRequest(b.Bytes)
	if err == nil {
		err = req.CheckSignature()
	}
	if err != nil || req.Subject.CommonName != r.id {
		t.Errorf("CSR: %v; want a signed request for CN %q", err, r.id)
		return nil
	}
	certPEM, serial := r.broker.SignClientCert(t, req.PublicKey, r.id, time.Now().Add(-time.Minute), time.Now().Add(30*24*time.Hour))
	if r.issue != nil {
		r.issue(t, serial)
	}
	m := contracts.NewCertificateIssued(contracts.Origin{Source: contracts.Source{Type: contracts.SourceBackend, ID: "e2e-ca"}}, &csr.Envelope,
		contracts.CertificateIssuedPayload{DeviceID: r.id, CertificatePEM: string(certPEM), SerialNumber: serial.Text(16), NotAfter: time.Now().Add(30 * 24 * time.Hour)})
	body, err := contracts.Encode(m)
	if err != nil {
		t.Error(err)
		return nil
	}
	return body
}

// deviceState calls getDeviceState and returns its result.
func (r *certRig) deviceState(t *testing.T, within time.Duration) map[string]any {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		id, body := rpcCommand(r.id, "getDeviceState", "", nil)
		r.broker.Publish(t, r.topics.Commands, body, 1, false, &mqtttest.Properties{ResponseTopic: "e2e/cert-replies/" + r.id, CorrelationData: []byte(id)})
		wait := time.Now().Add(3 * time.Second)
		for time.Now().Before(wait) {
			for _, m := range r.replies.Messages() {
				if string(m.CorrelationData) != id {
					continue
				}
				var resp struct {
					Payload struct {
						Result map[string]any `json:"result"`
					} `json:"payload"`
				}
				if err := json.Unmarshal(m.Payload, &resp); err != nil {
					t.Fatalf("getDeviceState answer: %v\n%s", err, m.Payload)
				}
				return resp.Payload.Result
			}
			time.Sleep(20 * time.Millisecond)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no getDeviceState answer within %v", within)
		}
	}
}

// certificateOf returns getDeviceState's certificate part.
func certificateOf(t *testing.T, state map[string]any) map[string]any {
	t.Helper()
	c, ok := state["certificate"].(map[string]any)
	if !ok {
		t.Fatalf("getDeviceState has no certificate: %v", state)
	}
	return c
}

// requestRotation runs `agent cert rotate` as an operator would.
func (r *certRig) requestRotation(t *testing.T) {
	t.Helper()
	if code, out, errs := runArgs("cert", "rotate", "--config", r.config, "--reason", "e2e test"); code != 0 || !strings.Contains(out, "asked the agent") {
		t.Fatalf("agent cert rotate: exit %d\n%s%s", code, out, errs)
	}
}

// TestCertificateRotationEndToEnd: the full rotation through mosquitto;
// afterwards the broker refuses the factory certificate (revoked), and
// the agent still connects: it presents only the new one.
func TestCertificateRotationEndToEnd(t *testing.T) {
	r := startCertRig(t, "gw-rotate")
	r.answerCSRs(t)
	agent := startAgent(t, r.config)
	agent.waitLog(t, "factory certificate imported", 20*time.Second)
	before := certificateOf(t, r.deviceState(t, 30*time.Second))
	if before["serial"] != r.factory.Text(16) {
		t.Fatalf("before the rotation the agent presents serial %v; want the factory's %s", before["serial"], r.factory.Text(16))
	}
	r.requestRotation(t)
	inst := waitEvent(t, r.events, 60*time.Second, func(*contracts.CertificateInstalled) bool { return true })
	csr := waitEvent(t, r.events, time.Second, func(*contracts.CertificateCSRCreated) bool { return true })
	if inst.CorrelationID != csr.CorrelationID || inst.Payload.PreviousSerial != r.factory.Text(16) || inst.Payload.SerialNumber == r.factory.Text(16) {
		t.Fatalf("certificate.installed %+v (correlationId %s); want the CSR's %s, previous %s", inst.Payload, inst.CorrelationID, csr.CorrelationID, r.factory.Text(16))
	}
	if csr.Payload.Reason != "e2e test" || csr.Payload.CurrentSerial != r.factory.Text(16) {
		t.Errorf("certificate.csr.created payload: reason %q, currentSerial %q", csr.Payload.Reason, csr.Payload.CurrentSerial)
	}
	t.Logf("installed serial %s, previous %s", inst.Payload.SerialNumber, inst.Payload.PreviousSerial)
	// The old key is gone from use: with the factory certificate revoked,
	// the agent connects again after the broker's restart.
	serial, ok := new(big.Int).SetString(inst.Payload.SerialNumber, 16)
	if !ok {
		t.Fatalf("installed serial %q is not hexadecimal", inst.Payload.SerialNumber)
	}
	r.broker.Revoke(t, r.factory)
	after := certificateOf(t, r.deviceState(t, 30*time.Second))
	if after["serial"] != serial.Text(16) {
		t.Fatalf("after the rotation the agent presents serial %v; want %s", after["serial"], serial.Text(16))
	}
	if ren, _ := after["renewal"].(map[string]any); ren["state"] != "idle" {
		t.Errorf("renewal after the rotation: %v", after["renewal"])
	}
	// The store: current is the new pair, previous the factory's, and no
	// key is left pending.
	store, err := certs.OpenStore(filepath.Join(r.stateDir, "certs"))
	if err != nil {
		t.Fatal(err)
	}
	if _, leaf, err := store.Current(); err != nil || leaf.SerialNumber.Cmp(serial) != 0 {
		t.Errorf("current.pem: %v, %v", leaf, err)
	}
	if _, leaf, err := store.Previous(); err != nil || leaf.SerialNumber.Cmp(r.factory) != 0 {
		t.Errorf("previous.pem: %v, %v", leaf, err)
	}
	if _, err := store.Pending(); err == nil {
		t.Error("a pending key is left after the rotation")
	}
	if code := agent.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit code %d", code)
	}
	if strings.Contains(agent.stderr.String(), "BEGIN") || strings.Contains(agent.stderr.String(), "PRIVATE") {
		t.Error("the agent's log holds PEM")
	}
}

// rollbackWithin bounds, by the agent's clock, the time from taking a
// certificate the broker refuses to reporting the failure and being
// connected with the old pair again: the trial (tryTimeout, 30 s by
// default, as here), then a reconnection whose attempts are at most a
// second apart.
const rollbackWithin = 60 * time.Second

// TestCertificateRotationRollsBack: a certificate.command.rotate starts
// a rotation; the broker refuses the new certificate (revoked before it
// is sent); the agent goes back to the factory pair within 60 s and
// reports the failure. The 60 s are measured by the agent's clock, from
// its log line taking the certificate to its event and its log line
// connecting with the old pair: the test's own delays on a busy machine
// (in seeing the CSR, in reading the events) are not part of them.
func TestCertificateRotationRollsBack(t *testing.T) {
	t.Parallel() // it waits most of its time: beside the other slow end-to-end tests
	r := startCertRig(t, "gw-rollback")
	r.issue = func(t *testing.T, serial *big.Int) { r.broker.Revoke(t, serial) }
	r.answerCSRs(t)
	agent := startAgent(t, r.config)
	r.deviceState(t, 30*time.Second)
	// This time the backend asks for the rotation.
	cmd, err := contracts.Encode(contracts.NewCertificateCommandRotate(contracts.Origin{Source: contracts.Source{Type: contracts.SourceBackend, ID: "e2e-ca"}},
		contracts.CertificateCommandRotatePayload{DeviceID: r.id, Reason: "compromise drill"}, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	r.broker.Publish(t, r.topics.Commands, cmd, 1, false, nil)
	csr := waitEvent(t, r.events, time.Minute, func(*contracts.CertificateCSRCreated) bool { return true })
	if csr.Payload.Reason != "compromise drill" {
		t.Errorf("CSR reason %q; want the command's", csr.Payload.Reason)
	}
	failed := waitEvent(t, r.events, 3*time.Minute, func(*contracts.CertificateRotationFailed) bool { return true })
	if failed.CorrelationID != csr.CorrelationID || !strings.Contains(failed.Payload.Reason, "did not accept") {
		t.Errorf("certificate.rotation.failed %+v (correlationId %s)", failed.Payload, failed.CorrelationID)
	}
	got := certificateOf(t, r.deviceState(t, time.Minute))
	if got["serial"] != r.factory.Text(16) {
		t.Errorf("after the rollback the agent presents serial %v; want the factory's %s", got["serial"], r.factory.Text(16))
	}
	if len(eventsOf[*contracts.CertificateInstalled](t, r.events)) != 0 {
		t.Error("certificate.installed after a refused certificate")
	}
	// How long it took, by the agent's clock.
	tried := agent.loggedAt(t, time.Time{}, "certs: certificate issued and checked; trying it", "correlationId", csr.CorrelationID)
	if took := failed.Timestamp.Sub(tried); took > rollbackWithin {
		t.Errorf("the agent reported the failure %v after it took the certificate; want within %v", took, rollbackWithin)
	}
	back := agent.loggedAt(t, tried, "mqtt: connected", "certSerial", r.factory.Text(16))
	if took := back.Sub(tried); took > rollbackWithin {
		t.Errorf("the agent connected with the old pair %v after it took the certificate; want within %v", took, rollbackWithin)
	}
	t.Logf("by the agent's clock: certificate taken at %s, after %d CSR(s); failure reported %v later, connected with the old pair %v later",
		tried.Format(time.StampMilli), len(eventsOf[*contracts.CertificateCSRCreated](t, r.events)), failed.Timestamp.Sub(tried), back.Sub(tried))
}

// TestCertificateRotationSurvivesKill kills the agent (SIGKILL) at each
// step of a rotation and starts it again: it always starts with a pair
// that matches and is valid, and the rotation completes.
func TestCertificateRotationSurvivesKill(t *testing.T) {
	t.Parallel() // it waits most of its time: beside the other slow end-to-end tests
	for _, step := range []string{"key", "csr", "candidate", "trial", "promoted"} {
		t.Run(step, func(t *testing.T) {
			r := startCertRig(t, "gw-kill-"+step)
			r.answerCSRs(t)
			crashing := startAgentWith(t, r.config, envCrashAt+"="+step)
			r.deviceState(t, 30*time.Second)
			r.requestRotation(t)
			crashing.waitExit(t, 60*time.Second, fmt.Sprintf("the agent did not reach step %q", step))
			if !strings.Contains(crashing.stderr.String(), "killing the agent at rotation step") {
				t.Fatalf("the agent exited without reaching step %q: %v", step, crashing.err)
			}
			// What the next start finds: a pair that matches, valid now.
			store, err := certs.OpenStore(filepath.Join(r.stateDir, "certs"))
			if err != nil {
				t.Fatal(err)
			}
			pair, leaf, err := store.Current()
			if err != nil {
				t.Fatalf("after the kill: %v", err)
			}
			if !matches(t, pair.PrivateKey.(crypto.Signer), leaf) || time.Now().After(leaf.NotAfter) {
				t.Fatalf("after the kill the current pair (serial %s) does not match or is expired", leaf.SerialNumber.Text(16))
			}
			agent := startAgent(t, r.config)
			inst := waitEvent(t, r.events, 60*time.Second, func(*contracts.CertificateInstalled) bool { return true })
			if got := certificateOf(t, r.deviceState(t, 30*time.Second)); got["serial"] != inst.Payload.SerialNumber {
				t.Errorf("after the restart the agent presents %v; installed %s", got["serial"], inst.Payload.SerialNumber)
			}
			if code := agent.stop(t, syscall.SIGTERM); code != 0 {
				t.Errorf("exit code %d", code)
			}
		})
	}
}

// matches reports whether signer is the key of leaf: what it signs,
// leaf's public key verifies.
func matches(t *testing.T, signer crypto.Signer, leaf *x509.Certificate) bool {
	t.Helper()
	digest := sha256.Sum256([]byte("a pair that matches"))
	sig, err := signer.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	pub, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	return ok && ecdsa.VerifyASN1(pub, digest[:], sig)
}

// TestRefusesUnsafeCertificateFiles: a factory key or a store that others
// could read stops the agent at start, with the file and the chmod to
// run.
func TestRefusesUnsafeCertificateFiles(t *testing.T) {
	r := startCertRig(t, "gw-unsafe")
	keyFile := r.keyFile
	if err := os.Chmod(keyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	agent := startAgent(t, r.config)
	agent.waitExit(t, 30*time.Second, "the agent started with a key file others can read")
	if log := agent.stderr.String(); !strings.Contains(log, keyFile+" has mode 0644, must be 0600 (chmod 600 "+keyFile+")") {
		t.Fatalf("the agent's message does not name the key file and the chmod:\n%s", log)
	}
	if err := os.Chmod(keyFile, 0o600); err != nil {
		t.Fatal(err)
	}
	// Now the store, made by a first start, opened to others.
	agent = startAgent(t, r.config)
	agent.waitLog(t, "factory certificate imported", 20*time.Second)
	if code := agent.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	dir := filepath.Join(r.stateDir, "certs")
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	agent = startAgent(t, r.config)
	agent.waitExit(t, 30*time.Second, "the agent started with a certificate store others can read")
	if log := agent.stderr.String(); !strings.Contains(log, dir+" has mode 0755, must be 0700 (chmod 700 "+dir+")") {
		t.Fatalf("the agent's message does not name the store and the chmod:\n%s", log)
	}
}
