package rpc

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iot-hub/agent/contracts"
)

// TestEventHandlers: messages with a handler go to it and are
// acknowledged once it returns; its error dead-letters them; one it
// cannot finish in time stays unacknowledged; an expired command never
// reaches it.
func TestEventHandlers(t *testing.T) {
	r := newRig(t, Config{})
	var mu sync.Mutex
	var handled []contracts.Message
	events := map[contracts.EventType]EventHandler{
		contracts.TypeCertificateIssued: func(_ context.Context, m contracts.Message) error {
			mu.Lock()
			handled = append(handled, m)
			mu.Unlock()
			if id := m.(*contracts.CertificateIssued).Payload.DeviceID; id != device {
				return errors.New("payload.deviceId: the certificate is for " + id)
			}
			return nil
		},
		contracts.TypeCertificateCommandRotate: func(ctx context.Context, _ contracts.Message) error {
			<-ctx.Done() // a rotation that cannot start
			return ctx.Err()
		},
	}
	r.d.Close()
	d, err := New(Config{DeviceID: device, Settings: Settings{Timeout: 200 * time.Millisecond}}, r.box, Deps{Events: events})
	if err != nil {
		t.Fatal(err)
	}
	r.d = d
	backend := contracts.Origin{Source: contracts.Source{Type: contracts.SourceBackend, ID: "ca"}}
	csr := contracts.NewCertificateCSRCreated(contracts.DeviceOrigin(device), contracts.CertificateCSRCreatedPayload{DeviceID: device, CSRPEM: "x", Reason: "test"})
	issued := func(id string) []byte {
		b, err := contracts.Encode(contracts.NewCertificateIssued(backend, &csr.Envelope,
			contracts.CertificateIssuedPayload{DeviceID: id, CertificatePEM: "pem", SerialNumber: "1f", NotAfter: time.Now().Add(time.Hour)}))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	if o := r.call(issued(device)); o.answer != nil || o.deadLetter != nil {
		t.Errorf("certificate.issued for this device: got %v; want nothing but the handler", o)
	}
	o := r.call(issued("gw-other"))
	if o.answer != nil || o.deadLetter == nil || o.deadLetter.Payload.Reason != contracts.DLQInvalid ||
		!strings.Contains(o.deadLetter.Payload.Error, "payload.deviceId") || o.deadLetter.CorrelationID != csr.CorrelationID {
		t.Errorf("certificate.issued for another device: got %v; want an invalid dead letter naming payload.deviceId", o)
	}
	mu.Lock()
	if len(handled) != 2 {
		t.Errorf("the handler got %d messages, want 2", len(handled))
	}
	mu.Unlock()

	rotate := func(ttl time.Duration) []byte {
		b, err := contracts.Encode(contracts.NewCertificateCommandRotate(backend, contracts.CertificateCommandRotatePayload{DeviceID: device}, ttl))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	acked := make(chan struct{})
	req := request(rotate(time.Minute))
	req.Ack = func() { close(acked) }
	r.d.Handle(req)
	select {
	case <-acked:
		t.Error("a command whose handler timed out was acknowledged")
	case <-time.After(time.Second):
	}
	if es := r.drain(); len(es) != 0 {
		t.Errorf("a command whose handler timed out left %d records; want none (the broker delivers it again)", len(es))
	}

	expired := rotate(time.Millisecond)
	time.Sleep(5 * time.Millisecond)
	if o := r.call(expired); o.deadLetter == nil || o.deadLetter.Payload.Reason != contracts.DLQExpired || o.answer != nil {
		t.Errorf("expired certificate.command.rotate: got %v; want an expired dead letter", o)
	}
}
