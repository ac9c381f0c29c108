package rpc

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iot-hub/agent/contracts"
)

// TestMessagesOnTheirCatalogueTopic: a message that came on a Kafka
// topic other than the catalogue's for its type is refused with a dead
// letter naming both topics (an RPC is answered INVALID_COMMAND too), and
// neither runs nor reaches its handler; on its own topic, or over MQTT
// (no catalogue topic), it is handled.
func TestMessagesOnTheirCatalogueTopic(t *testing.T) {
	r := newRig(t, Config{})
	var handled atomic.Int64
	count := func(context.Context, contracts.Message) error { handled.Add(1); return nil }
	r.d.Close()
	d, err := New(Config{DeviceID: device}, r.box, Deps{Version: "test", StateDir: t.TempDir(), Started: time.Now(), Events: map[contracts.EventType]EventHandler{
		contracts.TypeCertificateIssued: count, contracts.TypeCertificateCommandRotate: count,
	}})
	if err != nil {
		t.Fatal(err)
	}
	r.d = d

	backend := contracts.Origin{Source: contracts.Source{Type: contracts.SourceBackend, ID: "ca"}}
	csr := contracts.NewCertificateCSRCreated(contracts.DeviceOrigin(device), contracts.CertificateCSRCreatedPayload{DeviceID: device, CSRPEM: "x", Reason: "test"})
	issued, err := contracts.Encode(contracts.NewCertificateIssued(backend, &csr.Envelope,
		contracts.CertificateIssuedPayload{DeviceID: device, CertificatePEM: "pem", SerialNumber: "1f", NotAfter: time.Now().Add(time.Hour)}))
	if err != nil {
		t.Fatal(err)
	}
	rotate, err := contracts.Encode(contracts.NewCertificateCommandRotate(backend, contracts.CertificateCommandRotatePayload{DeviceID: device}, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	rpcCmd, _ := command(t, contracts.MethodGetDeviceState, "", nil)

	for _, tc := range []struct {
		name      string
		payload   []byte
		catalogue string
		handled   bool   // reached its handler, or ran and was answered success
		code      string // the error answered; "" for none
		err       string // the dead letter's error; "" for none
	}{
		{"certificate.issued on certificate.events", issued, contracts.TopicCertificateEvents, true, "", ""},
		{"certificate.issued over MQTT", issued, "", true, "", ""},
		{"certificate.issued on device.commands", issued, contracts.TopicDeviceCommands, false, "",
			"rpc: certificate.issued travels on certificate.events; it came on device.commands"},
		{"certificate.command.rotate on device.commands", rotate, contracts.TopicDeviceCommands, true, "", ""},
		{"certificate.command.rotate on certificate.events", rotate, contracts.TopicCertificateEvents, false, "",
			"rpc: certificate.command.rotate travels on device.commands; it came on certificate.events"},
		{"device.command.rpc on device.commands", rpcCmd, contracts.TopicDeviceCommands, true, "", ""},
		{"device.command.rpc on certificate.events", rpcCmd, contracts.TopicCertificateEvents, false, contracts.CodeInvalidCommand,
			"rpc: device.command.rpc travels on device.commands; it came on certificate.events"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := handled.Load()
			req := request(tc.payload)
			req.Catalogue = tc.catalogue
			r.send(req)
			o := r.decode(r.drain())
			ran := handled.Load() > before || o.answer != nil && o.answer.Status == contracts.StatusSuccess
			if ran != tc.handled {
				t.Errorf("handled or run: %v; want %v", ran, tc.handled)
			}
			switch {
			case tc.code == "" && o.answer != nil && o.answer.Status != contracts.StatusSuccess:
				t.Errorf("answered %+v; want no error answer", o.answer)
			case tc.code != "" && (o.answer == nil || o.answer.Error == nil || o.answer.Error.Code != tc.code || o.answer.Error.Message != tc.err):
				t.Errorf("answer %+v; want %s with %q", o.answer, tc.code, tc.err)
			}
			switch {
			case tc.err == "" && o.deadLetter != nil:
				t.Errorf("dead letter %+v; want none", o.deadLetter.Payload)
			case tc.err != "" && (o.deadLetter == nil || o.deadLetter.Payload.Reason != contracts.DLQInvalid || o.deadLetter.Payload.Error != tc.err):
				t.Errorf("dead letter %v; want %s with error %q", o, contracts.DLQInvalid, tc.err)
			}
		})
	}
}
