package contracts_test

import (
	"reflect"
	"testing"

	"github.com/iot-hub/agent/contracts"
)

func TestCatalogue(t *testing.T) {
	wantTopic := map[contracts.EventType]string{
		contracts.TypeDeviceCommandRPC:          "device.commands",
		contracts.TypeDeviceResponseRPC:         "device.responses",
		contracts.TypeDeviceTelemetry:           "device.telemetry",
		contracts.TypeDeviceStatusChanged:       "device.events",
		contracts.TypeDeviceBound:               "device.events",
		contracts.TypeDeviceUnbound:             "device.events",
		contracts.TypeDeviceManagementAudit:     "device.events",
		contracts.TypeCertificateCommandRotate:  "device.commands",
		contracts.TypeCertificateCSRCreated:     "certificate.events",
		contracts.TypeCertificateIssued:         "certificate.events",
		contracts.TypeCertificateInstalled:      "certificate.events",
		contracts.TypeCertificateRotationFailed: "certificate.events",
		contracts.TypeUserCreated:               "user.events",
		contracts.TypeUserUpdated:               "user.events",
		contracts.TypeUserDeleted:               "user.events",
		contracts.TypeIntegrationMQTTReceived:   "integration.events",
		contracts.TypeSystemDLQ:                 "dlq",
	}
	types := contracts.EventTypes()
	if len(types) != len(wantTopic) {
		t.Errorf("EventTypes() has %d types; want %d", len(types), len(wantTopic))
	}
	for _, et := range types {
		if !et.Known() {
			t.Errorf("%s.Known() = false", et)
		}
		if got := et.Topic(); got != wantTopic[et] {
			t.Errorf("%s.Topic() = %q; want %q", et, got, wantTopic[et])
		}
		m := contracts.NewMessage(et)
		if m == nil || m.Header().EventType != et {
			t.Fatalf("NewMessage(%s) = %#v", et, m)
		}
		// The Go header type must agree with the kind the name gives.
		header := reflect.TypeOf(m).Elem().Field(0).Type
		wantHeader := map[contracts.Kind]reflect.Type{
			contracts.KindCommand:  reflect.TypeFor[contracts.Command](),
			contracts.KindResponse: reflect.TypeFor[contracts.Response](),
			contracts.KindEvent:    reflect.TypeFor[contracts.Event](),
		}[et.Kind()]
		if header != wantHeader {
			t.Errorf("%s is a %v but its Go type embeds %v", et, et.Kind(), header)
		}
	}
	if contracts.EventType("device.exploded").Known() || contracts.NewMessage("device.exploded") != nil {
		t.Error("an unknown type is known")
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[contracts.Kind]string{
		contracts.KindCommand: "command", contracts.KindResponse: "response", contracts.KindEvent: "event", contracts.Kind(9): "Kind(9)",
	} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q; want %q", int(k), got, want)
		}
	}
}
