// Package status numbers the device's connections and builds the
// device.status.changed events the uplinks publish, so that a consumer
// can tell the device's current status from them whatever their order
// and however many copies arrive.
//
// The rule a consumer applies, of two statuses of one device the one
// that counts: the higher payload.connection; of the same connection, the
// offline. An event with no connection (from an agent before it) ranks
// below every numbered one; among those, the later timestamp.
package status

import (
	"context"
	"fmt"
	"strconv"

	"github.com/iot-hub/agent/contracts"
)

// Reasons the uplinks give.
const (
	// ReasonConnected is the online of an MQTT connection.
	ReasonConnected = "connected"
	// ReasonStarted is the online of a Kafka uplink that started.
	ReasonStarted = "started"
	// ReasonConnectionLost is the MQTT Last Will: the broker publishes it
	// when the connection ends without a clean stop (a crash, kill -9, the
	// network gone).
	ReasonConnectionLost = "connection lost"
	// ReasonStopped is the offline of a clean stop.
	ReasonStopped = "stopped"
)

// Store is where the connection number is kept: the outbox's cursors,
// durable across restarts.
type Store interface {
	PutCursor(ctx context.Context, name string, value []byte) error
	Cursor(name string) (value []byte, ok bool, err error)
}

// cursorName is the outbox cursor that holds the last connection number.
const cursorName = "status/connection"

// NextConnection returns the number of a new connection: one more than
// the last one stored, which it stores durably before returning, so that
// numbers only grow, across restarts too. A number whose connection
// failed is not given again: the gap does no harm.
func NextConnection(ctx context.Context, s Store) (uint64, error) {
	v, ok, err := s.Cursor(cursorName)
	if err != nil {
		return 0, fmt.Errorf("status: read the connection number: %w", err)
	}
	var last uint64
	if ok {
		last, err = strconv.ParseUint(string(v), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("status: the stored connection number %q is not a number", v)
		}
	}
	if last >= contracts.MaxConnection {
		return 0, fmt.Errorf("status: the connection number %d is at its maximum", last)
	}
	next := last + 1
	if err := s.PutCursor(ctx, cursorName, strconv.AppendUint(nil, next, 10)); err != nil {
		return 0, fmt.Errorf("status: store the connection number: %w", err)
	}
	return next, nil
}

// Event is a device.status.changed of device id, with its own
// correlationId and the time of now.
func Event(id string, s contracts.DeviceStatus, reason string, connection uint64) *contracts.DeviceStatusChanged {
	return contracts.NewDeviceStatusChanged(contracts.DeviceOrigin(id),
		contracts.DeviceStatusChangedPayload{DeviceID: id, Status: s, Reason: reason, Connection: connection})
}
