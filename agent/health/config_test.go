package health_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/health"
	"github.com/iot-hub/agent/internal/confkeys"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		listen string
		err    error  // nil: valid
		want   string // in the message
	}{
		{"", nil, ""},
		{"127.0.0.1:9464", nil, ""},
		{"127.3.2.1:0", nil, ""},
		{"[::1]:9464", nil, ""},
		{"0.0.0.0:9464", health.ErrNotLoopback, "0.0.0.0 is not in 127.0.0.0/8 or ::1"},
		{":9464", health.ErrNotLoopback, "no host means every interface"},
		{"[::]:9464", health.ErrNotLoopback, ":: is not in 127.0.0.0/8 or ::1"},
		{"192.168.1.10:9464", health.ErrNotLoopback, "192.168.1.10 is not in"},
		{"localhost:9464", health.ErrNotLoopback, `"localhost" is not an IP address; write 127.0.0.1 or ::1`},
		{"127.0.0.1", health.ErrInvalidConfig, "not host:port"},
		{"127.0.0.1:65536", health.ErrInvalidConfig, `port "65536" is not 0..65535`},
		{"127.0.0.1:http", health.ErrInvalidConfig, `port "http" is not 0..65535`},
	}
	for _, tt := range tests {
		t.Run(tt.listen, func(t *testing.T) {
			err := health.Config{Settings: health.Settings{Listen: tt.listen}}.Validate()
			if tt.err == nil {
				if err != nil {
					t.Errorf("Validate(Listen %q) = %v; want nil", tt.listen, err)
				}
				return
			}
			if !errors.Is(err, tt.err) || !errors.Is(err, health.ErrInvalidConfig) || !strings.Contains(err.Error(), tt.want) ||
				!strings.Contains(err.Error(), "Listen") {
				t.Errorf("Validate(Listen %q) = %v; want %v naming Listen, with %q", tt.listen, err, tt.err, tt.want)
			}
			if e, ok := errors.AsType[*confkeys.FieldError](err); !ok || e.Path != "listen" {
				t.Errorf("Validate(Listen %q) = %#v; want a *confkeys.FieldError at the key listen", tt.listen, err)
			}
		})
	}
	if err := (health.Config{Grace: -time.Second}).Validate(); !errors.Is(err, health.ErrInvalidConfig) || !strings.Contains(err.Error(), "Grace -1s is negative") {
		t.Errorf("Validate(Grace -1s) = %v; want Grace -1s is negative", err)
	}
}

// TestListenRefusesNonLoopback: Listen refuses an address that is not
// loopback before it binds anything.
func TestListenRefusesNonLoopback(t *testing.T) {
	srv, err := health.Listen(health.Config{Settings: health.Settings{Listen: "0.0.0.0:0"}}, health.Sources{}, nil)
	if !errors.Is(err, health.ErrNotLoopback) {
		if srv != nil {
			srv.Close()
		}
		t.Fatalf("Listen(0.0.0.0:0) = %v; want ErrNotLoopback", err)
	}
}
