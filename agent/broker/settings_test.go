package broker_test

import (
	"errors"
	"testing"

	"github.com/iot-hub/agent/agent/broker"
	"github.com/iot-hub/agent/internal/confkeys"
)

// TestSettings: the embedded broker's keys take their defaults, and
// Validate refuses the listen address of an enabled broker that is not
// host:port as a *confkeys.FieldError at listen; a disabled broker's is
// not checked.
func TestSettings(t *testing.T) {
	var s broker.Settings
	if s.SetDefaults(); s.Listen != broker.DefaultListen {
		t.Errorf("SetDefaults(): Listen %q; want %q", s.Listen, broker.DefaultListen)
	}
	for listen, msg := range map[string]string{
		"127.0.0.1:1883":  "",
		"[::1]:0":         "",
		":1883":           "",
		"nowhere":         `"nowhere" is not host:port`,
		"127.0.0.1:x":     `"127.0.0.1:x": port "x" is not 0..65535`,
		"127.0.0.1:70000": `"127.0.0.1:70000": port "70000" is not 0..65535`,
	} {
		if err := (broker.Settings{Listen: listen}).Validate(); err != nil {
			t.Errorf("Validate(disabled, %q) = %v; want nil", listen, err)
		}
		err := broker.Settings{Enabled: true, Listen: listen}.Validate()
		e, ok := errors.AsType[*confkeys.FieldError](err)
		switch {
		case msg == "" && err != nil:
			t.Errorf("Validate(%q) = %v; want nil", listen, err)
		case msg != "" && (!ok || e.Path != "listen" || e.Msg != msg || !errors.Is(err, confkeys.ErrInvalid)):
			t.Errorf("Validate(%q) = %#v; want a *confkeys.FieldError at listen: %s", listen, err, msg)
		}
	}
}
