package mqtt_test

import (
	"errors"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/uplink/mqtt"
	"github.com/iot-hub/agent/internal/confkeys"
)

// TestSettings: the keys of uplink.mqtt take their defaults (backoffMax
// no shorter than backoffMin), and Validate refuses a wrong one as a
// *confkeys.FieldError at the key, naming the field.
func TestSettings(t *testing.T) {
	s := mqtt.Settings{Broker: "mqtt://b:1883"}
	s.SetDefaults()
	if s.KeepAlive != 30*time.Second || s.SessionExpiry != 24*time.Hour || s.Window != 256 || s.BackoffMin != time.Second ||
		s.BackoffMax != 15*time.Second || s.ConnectTimeout != 10*time.Second || s.Broker != "mqtt://b:1883" ||
		s.Protocol != mqtt.ProtocolV1 || s.LegacyTopics != (mqtt.LegacyTopics{Commands: "devices/{deviceId}/rpc/request",
		Responses: "devices/{deviceId}/rpc/response", Telemetry: "devices/{deviceId}/telemetry", Status: "devices/{deviceId}/status"}) {
		t.Errorf("SetDefaults() = %+v; want the defaults, the broker kept", s)
	}
	long := mqtt.Settings{BackoffMin: time.Hour}
	if long.SetDefaults(); long.BackoffMax != time.Hour {
		t.Errorf("SetDefaults() with BackoffMin 1h: BackoffMax %v; want 1h", long.BackoffMax)
	}
	for _, tt := range []struct {
		change    func(*mqtt.Settings)
		path, msg string
	}{
		{func(s *mqtt.Settings) { s.Broker = "" }, "broker", "Broker is required"},
		{func(s *mqtt.Settings) { s.Broker = "http://b" }, "broker", `Broker "http://b": scheme must be mqtt, tcp, mqtts, tls or ssl`},
		{func(s *mqtt.Settings) { s.Broker = "mqtt://" }, "broker", `Broker "mqtt://" has no host`},
		{func(s *mqtt.Settings) { s.KeepAlive = 19 * time.Hour }, "keepAlive", "KeepAlive 19h0m0s is outside 1s..18h"},
		{func(s *mqtt.Settings) { s.SessionExpiry = -time.Second }, "sessionExpiry", "SessionExpiry -1s is negative or too long"},
		{func(s *mqtt.Settings) { s.Window = 65536 }, "window", "Window 65536 is outside 1..65535"},
		{func(s *mqtt.Settings) { s.BackoffMax = 500 * time.Millisecond }, "backoffMin", "BackoffMin 1s and BackoffMax 500ms must be positive and in order"},
		{func(s *mqtt.Settings) { s.KeyFile = "k.pem" }, "certFile", "CertFile and KeyFile go together"},
		{func(s *mqtt.Settings) { s.Protocol = "legacy+v1" }, "protocol", `Protocol "legacy+v1" is not one of v1, legacy, dual`},
		{func(s *mqtt.Settings) { s.LegacyTopics.Commands = "" }, "legacyTopics.commands", "LegacyTopics.commands is required"},
		{func(s *mqtt.Settings) { s.LegacyTopics.Status = "devices/{deviceId}/#" }, "legacyTopics.status",
			`LegacyTopics.status "devices/{deviceId}/#" holds a wildcard (+ or #) or NUL: it is a topic to publish or subscribe to, not a filter`},
		{func(s *mqtt.Settings) { s.LegacyTopics.Telemetry = "devices/telemetry" }, "legacyTopics.telemetry",
			`LegacyTopics.telemetry "devices/telemetry" does not hold {deviceId}: each gateway needs topics of its own`},
		{func(s *mqtt.Settings) { s.LegacyTopics.Responses = "devices/{deviceId}/rpc/request" }, "legacyTopics.responses",
			`LegacyTopics.responses "devices/{deviceId}/rpc/request" is also LegacyTopics.commands`},
		{func(s *mqtt.Settings) { s.LegacyTopics.Telemetry = "iot/v1/devices/{deviceId}/telemetry" }, "legacyTopics.telemetry",
			`LegacyTopics.telemetry "iot/v1/devices/{deviceId}/telemetry" is a v1 topic`},
		{func(s *mqtt.Settings) { s.LegacyTopics.Status = "devices/{deviceId}/st\xffatus" }, "legacyTopics.status",
			`LegacyTopics.status "devices/{deviceId}/st\xffatus" is not valid UTF-8`},
	} {
		bad := s
		tt.change(&bad)
		err := bad.Validate()
		if e, ok := errors.AsType[*confkeys.FieldError](err); !ok || e.Path != tt.path || e.Msg != tt.msg || !errors.Is(err, mqtt.ErrInvalidConfig) {
			t.Errorf("Validate(%+v) = %#v; want a *confkeys.FieldError at %s: %s, wrapping ErrInvalidConfig", bad, err, tt.path, tt.msg)
		}
	}
}
