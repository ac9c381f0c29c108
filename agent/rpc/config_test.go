package rpc_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/rpc"
	"github.com/iot-hub/agent/internal/confkeys"
)

// TestSettings: the keys of the rpc section take their defaults, and
// Validate refuses a key out of range as a *confkeys.FieldError at the
// key, naming the field.
func TestSettings(t *testing.T) {
	var s rpc.Settings
	s.SetDefaults()
	if s.Concurrency != rpc.DefaultConcurrency || s.Timeout != rpc.DefaultTimeout || s.MaxCommandBytes != rpc.DefaultMaxCommandBytes {
		t.Errorf("SetDefaults() = %+v; want the defaults", s)
	}
	for _, change := range []func(*rpc.Settings){
		func(*rpc.Settings) {}, // the defaults
		func(s *rpc.Settings) { s.Concurrency, s.Timeout, s.MaxCommandBytes = 1, time.Millisecond, confkeys.KiB },
		func(s *rpc.Settings) { s.Concurrency, s.MaxCommandBytes = 1024, confkeys.MiB },
	} {
		ok := s
		change(&ok)
		if err := ok.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v; want nil", ok, err)
		}
	}
	for _, tt := range []struct {
		change    func(*rpc.Settings)
		path, msg string
	}{
		{func(s *rpc.Settings) { s.Concurrency = 1025 }, "concurrency", "Concurrency 1025 is outside 1..1024"},
		{func(s *rpc.Settings) { s.Timeout = -time.Second }, "timeout", "Timeout -1s is negative"},
		{func(s *rpc.Settings) { s.MaxCommandBytes = confkeys.KiB - 1 }, "maxCommandBytes", "MaxCommandBytes 1023 is outside 1 KiB..1 MiB"},
	} {
		bad := s
		tt.change(&bad)
		err := bad.Validate()
		e, ok := errors.AsType[*confkeys.FieldError](err)
		if !ok || e.Path != tt.path || e.Msg != tt.msg || !errors.Is(err, rpc.ErrInvalidConfig) {
			t.Errorf("Validate(%+v) = %#v; want a *confkeys.FieldError at %s: %s, wrapping ErrInvalidConfig", bad, err, tt.path, tt.msg)
		}
		if err := (rpc.Config{DeviceID: "gw", Settings: bad}).Validate(); !errors.Is(err, rpc.ErrInvalidConfig) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("Config.Validate(%+v) = %v; want the Settings' error", bad, err)
		}
	}
	if err := (rpc.Config{DeviceID: "a/b"}).Validate(); !errors.Is(err, rpc.ErrInvalidConfig) || !strings.Contains(err.Error(), "DeviceID") {
		t.Errorf("Validate(DeviceID a/b) = %v; want ErrInvalidConfig naming DeviceID", err)
	}
}
