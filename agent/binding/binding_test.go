package binding_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/binding"
	"github.com/iot-hub/agent/contracts"
)

var t0 = time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)

func bound(device, user string, at time.Time) *contracts.DeviceBound {
	return &contracts.DeviceBound{Payload: contracts.DeviceBoundPayload{DeviceID: device, UserID: user, BoundAt: at}}
}

func unbound(device, user string, at time.Time) *contracts.DeviceUnbound {
	return &contracts.DeviceUnbound{Payload: contracts.DeviceUnboundPayload{DeviceID: device, UserID: user, UnboundAt: at}}
}

// TestEventsInAnyOrder: the newest event by its time wins, whatever the
// order they come in; a stale one or a repeat changes nothing; the
// binding is on disk and read back by the next Open; an event about
// another device is refused.
func TestEventsInAnyOrder(t *testing.T) {
	dir := t.TempDir()
	s, err := binding.Open(dir, "gw-1")
	if err != nil {
		t.Fatal(err)
	}
	if st := s.Status(); st.Bound || st.UserID != "" {
		t.Fatalf("a new gateway: %+v; want unbound", st)
	}
	steps := []struct {
		name    string
		apply   func() (bool, error)
		changed bool
		want    binding.Status
	}{
		{"bound to u1", func() (bool, error) { return s.Bound(bound("gw-1", "u1", t0)) }, true, binding.Status{Bound: true, UserID: "u1", Since: t0}},
		{"the same again", func() (bool, error) { return s.Bound(bound("gw-1", "u1", t0)) }, false, binding.Status{Bound: true, UserID: "u1", Since: t0}},
		{"an older unbound, late", func() (bool, error) { return s.Unbound(unbound("gw-1", "u0", t0.Add(-time.Hour))) }, false, binding.Status{Bound: true, UserID: "u1", Since: t0}},
		{"unbound", func() (bool, error) { return s.Unbound(unbound("gw-1", "u1", t0.Add(time.Minute))) }, true, binding.Status{UserID: "u1", Since: t0.Add(time.Minute)}},
		{"the first bound, again and late", func() (bool, error) { return s.Bound(bound("gw-1", "u1", t0)) }, false, binding.Status{UserID: "u1", Since: t0.Add(time.Minute)}},
		{"bound to u2", func() (bool, error) { return s.Bound(bound("gw-1", "u2", t0.Add(2*time.Minute))) }, true, binding.Status{Bound: true, UserID: "u2", Since: t0.Add(2 * time.Minute)}},
	}
	for _, st := range steps {
		changed, err := st.apply()
		if err != nil || changed != st.changed || s.Status() != st.want {
			t.Errorf("%s: changed %v, %v, status %+v; want changed %v, %+v", st.name, changed, err, s.Status(), st.changed, st.want)
		}
	}
	if _, err := s.Bound(bound("gw-2", "u3", t0.Add(time.Hour))); !errors.Is(err, binding.ErrOtherDevice) {
		t.Errorf("an event about gw-2: %v; want ErrOtherDevice", err)
	}
	again, err := binding.Open(dir, "gw-1")
	if err != nil || again.Status() != s.Status() {
		t.Errorf("reopened: %+v, %v; want %+v", again.Status(), err, s.Status())
	}
	if fi, err := os.Stat(filepath.Join(dir, binding.FileName)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the binding file: %v, %v; want mode 0600", fi, err)
	}
}

// TestDamagedFile: a binding file that is not JSON is an error naming it.
func TestDamagedFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, binding.FileName), []byte("{bound"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := binding.Open(dir, "gw-1"); err == nil || !strings.Contains(err.Error(), binding.FileName) {
		t.Errorf("Open of a damaged file = %v; want an error naming %s", err, binding.FileName)
	}
}
