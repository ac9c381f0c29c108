// Package statustest is a consumer of device.status.changed events, for
// tests: it applies the rule of package agent/uplink/status to tell a
// device's current status from events received in any order, any number
// of times, and checks it does so whatever the order.
package statustest

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/iot-hub/agent/contracts"
)

// Outranks reports whether a counts over b, two statuses of one device:
// the higher connection; of the same connection, the offline; with no
// connection on either (agents before it), the later timestamp. Copies of
// one event, and equal ranks, do not outrank each other.
func Outranks(a, b *contracts.DeviceStatusChanged) bool {
	pa, pb := a.Payload, b.Payload
	switch {
	case pa.Connection != pb.Connection:
		return pa.Connection > pb.Connection
	case pa.Connection == 0:
		return a.Timestamp.After(b.Timestamp)
	default:
		return pa.Status != pb.Status && pa.Status == contracts.DeviceOffline
	}
}

// Current returns the status that counts among events, received in that
// order: what a consumer that keeps the one that outranks keeps. It
// returns nil for no events.
func Current(events []*contracts.DeviceStatusChanged) *contracts.DeviceStatusChanged {
	var cur *contracts.DeviceStatusChanged
	for _, e := range events {
		if cur == nil || Outranks(e, cur) {
			cur = e
		}
	}
	return cur
}

// Decode decodes status payloads; a payload that is not a
// device.status.changed fails the test.
func Decode(t testing.TB, payloads ...[]byte) []*contracts.DeviceStatusChanged {
	t.Helper()
	out := make([]*contracts.DeviceStatusChanged, 0, len(payloads))
	for _, p := range payloads {
		m, err := contracts.Decode(p)
		if err != nil {
			t.Fatalf("status payload %s: %v", p, err)
		}
		e, ok := m.(*contracts.DeviceStatusChanged)
		if !ok {
			t.Fatalf("status payload %s is a %s", p, m.Header().EventType)
		}
		out = append(out, e)
	}
	return out
}

// Want is a device's current status as a test expects it.
type Want struct {
	Status contracts.DeviceStatus
	Reason string
	// Connection is the connection number wanted; 0 for any.
	Connection uint64
}

// Orders is how many shuffled, duplicated orders Check tries besides the
// one the events came in.
const Orders = 200

// Check checks that Current gives want from events as they came, and
// from the same events shuffled with some duplicated, in Orders orders
// drawn from seed; and that no two offlines of different connections
// share a correlationId. It returns the current status.
func Check(t testing.TB, events []*contracts.DeviceStatusChanged, want Want, seed uint64) *contracts.DeviceStatusChanged {
	t.Helper()
	checkOfflineIDs(t, events)
	cur := Current(events)
	if !matches(cur, want) {
		t.Fatalf("current status of %d events as they came = %s; want %+v", len(events), describe(cur), want)
	}
	r := rand.New(rand.NewPCG(seed, uint64(len(events))))
	for i := range Orders {
		messed := mess(r, events)
		if got := Current(messed); !matches(got, want) {
			t.Fatalf("current status of order %d (%d events, shuffled and duplicated) = %s; want %+v", i, len(messed), describe(got), want)
		}
	}
	return cur
}

// mess returns events shuffled, each there once or twice.
func mess(r *rand.Rand, events []*contracts.DeviceStatusChanged) []*contracts.DeviceStatusChanged {
	out := slices.Clone(events)
	for _, e := range events {
		if r.IntN(2) == 0 {
			out = append(out, e)
		}
	}
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// checkOfflineIDs fails the test when two offlines of different
// connections share a correlationId: a consumer that de-duplicates by it
// would drop the second.
func checkOfflineIDs(t testing.TB, events []*contracts.DeviceStatusChanged) {
	t.Helper()
	connOf := make(map[string]uint64)
	for _, e := range events {
		if e.Payload.Status != contracts.DeviceOffline {
			continue
		}
		if c, ok := connOf[e.CorrelationID]; ok && c != e.Payload.Connection {
			t.Fatalf("offlines of connections %d and %d share the correlationId %s", c, e.Payload.Connection, e.CorrelationID)
		}
		connOf[e.CorrelationID] = e.Payload.Connection
	}
}

func matches(e *contracts.DeviceStatusChanged, want Want) bool {
	return e != nil && e.Payload.Status == want.Status && e.Payload.Reason == want.Reason &&
		(want.Connection == 0 || e.Payload.Connection == want.Connection)
}

func describe(e *contracts.DeviceStatusChanged) string {
	if e == nil {
		return "none"
	}
	return string(e.Payload.Status) + " (" + e.Payload.Reason + ", connection " + strconv.FormatUint(e.Payload.Connection, 10) + ")"
}
