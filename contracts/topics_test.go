package contracts_test

import (
	"errors"
	"testing"

	"github.com/iot-hub/agent/contracts"
)

func TestDeviceTopics(t *testing.T) {
	tp, err := contracts.DeviceTopics("gw-0042")
	if err != nil {
		t.Fatal(err)
	}
	for et, want := range map[contracts.EventType]string{
		contracts.TypeDeviceCommandRPC:          "iot/v1/devices/gw-0042/commands",
		contracts.TypeCertificateCommandRotate:  "iot/v1/devices/gw-0042/commands",
		contracts.TypeDeviceResponseRPC:         "iot/v1/devices/gw-0042/responses",
		contracts.TypeDeviceTelemetry:           "iot/v1/devices/gw-0042/telemetry",
		contracts.TypeDeviceStatusChanged:       "iot/v1/devices/gw-0042/status",
		contracts.TypeSystemDLQ:                 "iot/v1/devices/gw-0042/dlq",
		contracts.TypeCertificateCSRCreated:     "iot/v1/devices/gw-0042/events",
		contracts.TypeCertificateRotationFailed: "iot/v1/devices/gw-0042/events",
	} {
		if got := tp.For(et); got != want {
			t.Errorf("For(%s) = %q; want %q", et, got, want)
		}
	}
	if tp.Commands != "iot/v1/devices/gw-0042/commands" {
		t.Errorf("Commands = %q", tp.Commands)
	}
}

func TestDeviceTopicsRefusesBadIDs(t *testing.T) {
	for _, id := range []string{"", "gw/42", "gw+", "#", "gw\x00"} {
		if _, err := contracts.DeviceTopics(id); err == nil {
			t.Errorf("DeviceTopics(%q) = nil error; want one", id)
		} else if !errors.Is(err, contracts.ErrRequired) && !errors.Is(err, contracts.ErrInvalidValue) {
			t.Errorf("DeviceTopics(%q) = %v; want ErrRequired or ErrInvalidValue", id, err)
		}
	}
}
