package outbox_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/internal/confkeys"
)

// TestSettings: the keys of the outbox section take their defaults, and
// Validate refuses a key out of range as a *confkeys.FieldError at the
// key, naming the field.
func TestSettings(t *testing.T) {
	var s outbox.Settings
	s.SetDefaults()
	if s.MaxBytes != outbox.DefaultMaxBytes || s.FlushInterval != 0 || s.LiveShare != outbox.DefaultLiveShare {
		t.Errorf("SetDefaults() = %+v; want the defaults", s)
	}
	if d := outbox.DefaultConfig().Settings; d != s {
		t.Errorf("DefaultConfig().Settings = %+v; want SetDefaults' %+v", d, s)
	}
	for _, change := range []func(*outbox.Settings){
		func(*outbox.Settings) {}, // the defaults
		func(s *outbox.Settings) { s.MaxBytes, s.FlushInterval, s.LiveShare = confkeys.MiB, time.Minute, 1 },
		func(s *outbox.Settings) { s.LiveShare = -1 },
	} {
		ok := s
		change(&ok)
		if err := ok.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v; want nil", ok, err)
		}
	}
	for _, tt := range []struct {
		change    func(*outbox.Settings)
		path, msg string
	}{
		{func(s *outbox.Settings) { s.MaxBytes = confkeys.MiB - 1 }, "maxBytes", "MaxBytes 1048575 is below the minimum of 1 MiB"},
		{func(s *outbox.Settings) { s.FlushInterval = -time.Second }, "flushInterval", "FlushInterval -1s is outside 0..1m"},
		{func(s *outbox.Settings) { s.FlushInterval = time.Minute + 1 }, "flushInterval", "FlushInterval 1m0.000000001s is outside 0..1m"},
		{func(s *outbox.Settings) { s.LiveShare = 1.5 }, "liveShare", "LiveShare 1.5 is above 1"},
		{func(s *outbox.Settings) { s.LiveShare = math.NaN() }, "liveShare", "LiveShare NaN is above 1"},
	} {
		bad := s
		tt.change(&bad)
		err := bad.Validate()
		e, ok := errors.AsType[*confkeys.FieldError](err)
		if !ok || e.Path != tt.path || e.Msg != tt.msg || !errors.Is(err, outbox.ErrInvalidConfig) {
			t.Errorf("Validate(%+v) = %#v; want a *confkeys.FieldError at %s: %s, wrapping ErrInvalidConfig", bad, err, tt.path, tt.msg)
		}
	}
}
