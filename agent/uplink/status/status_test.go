package status_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/agent/outbox/outboxtest"
	"github.com/iot-hub/agent/agent/uplink/status"
	"github.com/iot-hub/agent/contracts"
)

// TestNextConnectionGrowsAcrossRestarts takes numbers from an outbox file,
// closes it, opens it again and takes more: they go on growing.
func TestNextConnectionGrowsAcrossRestarts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	var last uint64
	for open := range 3 {
		box := outboxtest.OpenAt(t, path, outbox.Config{})
		for range 2 {
			n, err := status.NextConnection(context.Background(), box)
			if err != nil {
				t.Fatal(err)
			}
			if n != last+1 {
				t.Fatalf("opening %d: NextConnection = %d; want %d", open, n, last+1)
			}
			last = n
		}
		if err := box.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestNextConnectionRefusesAValueNotANumber checks a damaged value is an
// error naming it, not a silent restart from 1.
func TestNextConnectionRefusesAValueNotANumber(t *testing.T) {
	box, _ := outboxtest.Open(t, outbox.Config{})
	if err := box.PutCursor(context.Background(), "status/connection", []byte("seven")); err != nil {
		t.Fatal(err)
	}
	if _, err := status.NextConnection(context.Background(), box); err == nil {
		t.Fatal("NextConnection over the value \"seven\" succeeded; want an error")
	}
}

// TestEventEncodesTheConnection checks the number reaches the wire.
func TestEventEncodesTheConnection(t *testing.T) {
	b, err := contracts.Encode(status.Event("gw-1", contracts.DeviceOffline, status.ReasonStopped, 42))
	if err != nil {
		t.Fatal(err)
	}
	m, err := contracts.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	e, ok := m.(*contracts.DeviceStatusChanged)
	if !ok || e.Payload.Connection != 42 || e.Payload.Reason != status.ReasonStopped || e.Source.ID != "gw-1" {
		t.Fatalf("decoded %s; want an offline of gw-1, stopped, connection 42", b)
	}
}
