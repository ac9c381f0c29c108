package certs

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/internal/clocktest"
)

// fakeOutbox keeps what a rotation appends, decoded.
type fakeOutbox struct {
	mu   sync.Mutex
	msgs []contracts.Message
	recs []outbox.Record
	fail error // returned by Append when set
}

func (o *fakeOutbox) Append(_ context.Context, recs ...outbox.Record) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.fail != nil {
		return o.fail
	}
	for _, r := range recs {
		m, err := contracts.Decode(r.Payload)
		if err != nil {
			panic("rotation appended an invalid event: " + err.Error())
		}
		o.msgs = append(o.msgs, m)
		o.recs = append(o.recs, r)
	}
	return nil
}

// of returns the messages of type T appended so far.
func of[T contracts.Message](o *fakeOutbox) []T {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []T
	for _, m := range o.msgs {
		if t, ok := m.(T); ok {
			out = append(out, t)
		}
	}
	return out
}

// fakeUplink counts reconnections.
type fakeUplink struct {
	mu         sync.Mutex
	reconnects int
}

func (u *fakeUplink) Reconnect() {
	u.mu.Lock()
	u.reconnects++
	u.mu.Unlock()
}

func (u *fakeUplink) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.reconnects
}

// rig is a rotator on a store whose current pair was issued by ca for
// gw-0042 (90 days from t0 - 1 h), with a fake outbox and uplink, and a
// clock the test sets.
type rig struct {
	t     *testing.T
	ca    *testCA
	store *Store
	box   *fakeOutbox
	up    *fakeUplink
	cfg   RotatorConfig
	r     *Rotator
	logs  *bytes.Buffer
}

const dev = "gw-0042"

func newRig(t *testing.T, edit ...func(*RotatorConfig)) *rig {
	t.Helper()
	ca := newRoot(t, "device CA")
	s := openStore(t)
	p := newPair(t, ca)
	if err := s.PutCandidate(p.pem, p.key); err != nil {
		t.Fatal(err)
	}
	if err := s.Promote(); err != nil {
		t.Fatal(err)
	}
	rg := &rig{t: t, ca: ca, store: s, box: &fakeOutbox{}, up: &fakeUplink{}, logs: new(bytes.Buffer)}
	rg.cfg = RotatorConfig{
		DeviceID: dev, Store: s, Roots: pool(ca), Outbox: rg.box, Uplink: rg.up, Topic: "iot/v1/devices/gw-0042/events",
		Logger: slog.New(slog.NewTextHandler(rg.logs, nil)),
		Clock:  clocktest.New(t0),
		Rand:   func() float64 { return 0.5 },
	}
	for _, e := range edit {
		e(&rg.cfg)
	}
	rg.reopen()
	return rg
}

// reopen makes a new rotator on the same store, as a restart does.
func (rg *rig) reopen() {
	rg.t.Helper()
	r, err := NewRotator(rg.cfg)
	if err != nil {
		rg.t.Fatal(err)
	}
	rg.r = r
}

// csrs returns the CSR events sent so far.
func (rg *rig) csrs() []*contracts.CertificateCSRCreated {
	return of[*contracts.CertificateCSRCreated](rg.box)
}

// issue answers the last CSR: a certificate for its key from ca with o,
// as certificate.issued with the CSR's correlationId.
func (rg *rig) issue(ca *testCA, o leafOpts) *contracts.CertificateIssued {
	rg.t.Helper()
	csrs := rg.csrs()
	if len(csrs) == 0 {
		rg.t.Fatal("no CSR to answer")
	}
	last := csrs[len(csrs)-1]
	b, _ := pem.Decode([]byte(last.Payload.CSRPEM))
	if b == nil || b.Type != "CERTIFICATE REQUEST" {
		rg.t.Fatalf("CSR is not PEM CERTIFICATE REQUEST: %q", last.Payload.CSRPEM)
	}
	req, err := x509.ParseCertificateRequest(b.Bytes)
	if err != nil {
		rg.t.Fatal(err)
	}
	if err := req.CheckSignature(); err != nil {
		rg.t.Fatalf("CSR signature: %v", err)
	}
	if req.Subject.CommonName != dev {
		rg.t.Fatalf("CSR CN %q, want %q", req.Subject.CommonName, dev)
	}
	if o.cn == "" {
		o.cn = dev
	}
	certPEM := ca.issue(rg.t, req.PublicKey, o)
	leaf, err := parseChain(certPEM)
	if err != nil {
		rg.t.Fatal(err)
	}
	return contracts.NewCertificateIssued(contracts.Origin{Source: contracts.Source{Type: contracts.SourceBackend, ID: "ca"}}, &last.Envelope,
		contracts.CertificateIssuedPayload{DeviceID: dev, CertificatePEM: string(certPEM), SerialNumber: leaf[0].SerialNumber.Text(16), NotAfter: leaf[0].NotAfter})
}

// current returns the serial of the store's current pair.
func (rg *rig) current() string {
	rg.t.Helper()
	_, leaf, err := rg.store.Current()
	if err != nil {
		rg.t.Fatal(err)
	}
	return serialOf(leaf)
}

// presented returns the serial of what new connections present.
func (rg *rig) presented() string {
	rg.t.Helper()
	c, err := rg.r.ClientCertificate()
	if err != nil {
		rg.t.Fatal(err)
	}
	return serialOf(c.Leaf)
}

// waitUntil polls cond until it holds, failing the test after 30 s: a
// bound on a hang, not on speed.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: not within 30s", what)
		}
	}
}
