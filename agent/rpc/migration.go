package rpc

import (
	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/agent/uplink"
)

// Migration is what getDeviceState reports of an agent that runs MQTT
// and Kafka together: the platform's migration phase, and each uplink's
// share of the outbox.
type Migration struct {
	// Phase is uplink.phase: A, B or C.
	Phase string
	// FailedOver: in phase B, Kafka has been out for failoverAfter and
	// MQTT carries the records.
	FailedOver bool
	// Duplicates counts the records sent on both uplinks as a failover
	// began or ended (outbox.Stats.Duplicates).
	Duplicates uint64
	// Uplinks are the uplinks, each with its share.
	Uplinks []UplinkShare
}

// UplinkShare is one uplink in a Migration.
type UplinkShare struct {
	// Running: the uplink runs (the MQTT uplink does not in phase C).
	Running bool
	// State is its connection.
	State uplink.State
	// UplinkStats are its records: sent, acknowledged, queued.
	outbox.UplinkStats
}

func migrationOf(m Migration) *migrationResult {
	r := &migrationResult{Phase: m.Phase, FailedOver: m.FailedOver, Duplicates: m.Duplicates, Uplinks: []uplinkShare{}}
	for _, u := range m.Uplinks {
		r.Uplinks = append(r.Uplinks, uplinkShare{Name: u.Name, Running: u.Running, Connected: u.State.Connected,
			Sent: u.Sent, Acked: u.Acked, Queued: u.Queued})
	}
	return r
}
