// Package binding keeps which platform user the gateway is bound to, as
// the backend's device.bound and device.unbound events say (the
// document's bind-qr flow), in a file of the state directory. Events
// come again and out of order: one no newer than the last applied, by
// its boundAt or unboundAt, is stale and changes nothing.
package binding

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/internal/atomicfile"
)

// FileName is the binding's file in the state directory.
const FileName = "binding.json"

// Status is the gateway's binding.
type Status struct {
	// Bound: the gateway is bound to UserID.
	Bound bool `json:"bound"`
	// UserID is the user bound, or the one last unbound; "" before any
	// event.
	UserID string `json:"userId,omitzero"`
	// Since is the boundAt or unboundAt of the event applied last; zero
	// before any.
	Since time.Time `json:"since,omitzero"`
}

// Store is the binding of one gateway, kept in its file. Its methods are
// safe for concurrent use.
type Store struct {
	deviceID string
	path     string

	mu  sync.Mutex
	cur Status
}

// ErrOtherDevice is returned for an event about another device.
var ErrOtherDevice = errors.New("binding: the event is about another device")

// Open returns the binding of deviceID kept in stateDir, unbound when the
// file is absent.
func Open(stateDir, deviceID string) (*Store, error) {
	s := &Store{deviceID: deviceID, path: filepath.Join(stateDir, FileName)}
	b, err := os.ReadFile(s.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return s, nil
	case err != nil:
		return nil, fmt.Errorf("binding: %w", err)
	}
	if err := json.Unmarshal(b, &s.cur); err != nil {
		return nil, fmt.Errorf("binding: %s: %w", s.path, err)
	}
	return s, nil
}

// Status returns the binding.
func (s *Store) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

// Bound applies a device.bound event: it reports whether it changed the
// binding (false for a stale one), once the change is on disk.
func (s *Store) Bound(e *contracts.DeviceBound) (bool, error) {
	return s.apply(e.Payload.DeviceID, Status{Bound: true, UserID: e.Payload.UserID, Since: e.Payload.BoundAt})
}

// Unbound applies a device.unbound event, as Bound does.
func (s *Store) Unbound(e *contracts.DeviceUnbound) (bool, error) {
	return s.apply(e.Payload.DeviceID, Status{Bound: false, UserID: e.Payload.UserID, Since: e.Payload.UnboundAt})
}

func (s *Store) apply(deviceID string, next Status) (bool, error) {
	if deviceID != s.deviceID {
		return false, fmt.Errorf("%w: payload.deviceId %q; this is %q", ErrOtherDevice, deviceID, s.deviceID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.cur.Since.IsZero() && !next.Since.After(s.cur.Since) {
		return false, nil // stale, or the same event again
	}
	next.Since = next.Since.UTC()
	b, err := json.Marshal(next)
	if err != nil {
		return false, fmt.Errorf("binding: %w", err)
	}
	if err := atomicfile.WriteFile(s.path, b); err != nil {
		return false, fmt.Errorf("binding: %w", err)
	}
	s.cur = next
	return true, nil
}
