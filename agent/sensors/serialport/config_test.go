package serialport_test

import (
	"strings"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/sensors/serialport"
)

func TestNewRejectsInvalidConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  serialport.Config
		want string
	}{
		{"no path", serialport.Config{}, "Path is required"},
		{"negative baud", serialport.Config{Path: "/dev/x", Baud: -9600}, "Baud -9600 must be between 1 and 4000000"},
		{"huge baud", serialport.Config{Path: "/dev/x", Baud: 5_000_000}, "Baud 5000000"},
		{"data bits", serialport.Config{Path: "/dev/x", DataBits: 5}, "DataBits 5 must be 7 or 8"},
		{"parity", serialport.Config{Path: "/dev/x", Parity: "mark"}, `Parity "mark" must be "none", "even" or "odd"`},
		{"parity case", serialport.Config{Path: "/dev/x", Parity: "Even"}, `Parity "Even"`},
		{"stop bits", serialport.Config{Path: "/dev/x", StopBits: 3}, "StopBits 3 must be 1 or 2"},
		{"reopen min", serialport.Config{Path: "/dev/x", ReopenMin: -time.Second}, "ReopenMin -1s must be positive"},
		{"reopen max", serialport.Config{Path: "/dev/x", ReopenMin: 10 * time.Second, ReopenMax: 5 * time.Second}, "ReopenMax 5s must not be below ReopenMin 10s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := serialport.New(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New(%+v) = %v, %v; want an error containing %q", tt.cfg, p, err, tt.want)
			}
		})
	}
	// Every problem is reported at once.
	err := serialport.Config{DataBits: 9, StopBits: 3}.Validate()
	for _, want := range []string{"Path", "DataBits", "StopBits"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v; want it to name %s", err, want)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	p, err := serialport.New(serialport.Config{Path: "/dev/serial/by-id/../by-id/x"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	got := p.Config()
	if got.Path != "/dev/serial/by-id/x" || got.Baud != 9600 || got.DataBits != 8 || got.Parity != serialport.ParityNone ||
		got.StopBits != 1 || got.ReopenMin != time.Second || got.ReopenMax != 30*time.Second || got.Logger == nil {
		t.Errorf("Config() = %+v; want the defaults", got)
	}
	p2, err := serialport.New(serialport.Config{Path: "/dev/x", ReopenMin: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Close()
	if got := p2.Config().ReopenMax; got != time.Minute {
		t.Errorf("ReopenMax with ReopenMin 1m = %v; want 1m", got)
	}
}

func TestBackoff(t *testing.T) {
	b := serialport.Backoff(time.Second, 30*time.Second)
	for attempt, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 5: 16 * time.Second, 6: 30 * time.Second, 100: 30 * time.Second} {
		for range 20 {
			if got := b(attempt); got > want || got < want*8/10 {
				t.Errorf("backoff(%d) = %v; want between %v and %v", attempt, got, want*8/10, want)
			}
		}
	}
}
