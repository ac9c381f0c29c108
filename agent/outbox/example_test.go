package outbox_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/iot-hub/agent/agent/outbox"
)

// Append records, hand them to an uplink and acknowledge what the broker
// accepted.
func Example() {
	dir, err := os.MkdirTemp("", "outbox-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	store, err := outbox.Open(filepath.Join(dir, "outbox.db"), outbox.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()

	ctx := context.Background()
	// When Append returns nil, the records are on disk.
	err = store.Append(ctx,
		outbox.Record{Lane: outbox.LaneTelemetry, Topic: "iot/v1/devices/gw-1/telemetry", Payload: []byte(`{"t":21.5}`)},
		outbox.Record{Lane: outbox.LaneControl, Topic: "iot/v1/devices/gw-1/status", Payload: []byte(`online`)},
	)
	if err != nil {
		fmt.Println(err)
		return
	}

	entries, err := store.Next(ctx, 64) // the uplink's free window
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, e := range entries {
		fmt.Println(e.Lane, e.Topic, string(e.Payload))
		store.Ack(e.ID) // after the broker's acknowledgement
	}
	// Output:
	// control iot/v1/devices/gw-1/status online
	// telemetry iot/v1/devices/gw-1/telemetry {"t":21.5}
}
