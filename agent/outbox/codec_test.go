package outbox

import (
	"encoding/binary"
	"hash/crc32"
	"testing"
	"time"
)

// TestStoredLaneAndRoute: a record keeps its lane, retain and route in its
// flags; one of format 1 (before segments: no lane bit, the route from
// bit 1) still reads with its route, and says no lane.
func TestStoredLaneAndRoute(t *testing.T) {
	at := time.UnixMilli(1_700_000_000_000)
	for _, lane := range []Lane{LaneControl, LaneTelemetry} {
		r := Record{Lane: lane, Topic: "t", Payload: []byte("p"), Retain: true, Route: 0b101}
		b := encodeRecord(nil, &r, 7, at)
		if got, ok := storedLane(b); !ok || got != lane {
			t.Errorf("storedLane of a %v record = %v, %v", lane, got, ok)
		}
		if got := storedRoute(b); got != r.Route {
			t.Errorf("storedRoute of a %v record = %b; want %b", lane, got, r.Route)
		}
		var e Entry
		if topic, err := decodeRecord(b, nil, &e); err != nil || topic != 7 || !e.Retain || e.Route != r.Route || string(e.Payload) != "p" {
			t.Errorf("a %v record decodes to %+v, topic %d, %v", lane, e, topic, err)
		}
	}

	old := formatOneRecord(at, 7)
	if l, ok := storedLane(old); ok {
		t.Errorf("storedLane of a format 1 record = %v, true; it has no lane", l)
	}
	if got := storedRoute(old); got != 0b11 {
		t.Errorf("storedRoute of a format 1 record = %b; want 11", got)
	}
	var e Entry
	if topic, err := decodeRecord(old, nil, &e); err != nil || topic != 7 || !e.Retain || e.Route != 0b11 || string(e.Payload) != "p" || !e.AppendedAt.Equal(at) {
		t.Errorf("a format 1 record decodes to %+v, topic %d, %v", e, topic, err)
	}
}

// formatOneRecord is a record as the release before segments wrote it
// (format 1): retain, route 0b11, topic id topic, payload "p".
func formatOneRecord(at time.Time, topic uint64) []byte {
	old := []byte{formatNoLane}
	for _, v := range []uint64{1 | 0b11<<1, uint64(at.UnixMilli()), 0, topic} { // flags, appendedAt, expiry, topic
		old = binary.AppendUvarint(old, v)
	}
	old = append(old, 0, 1, 'p', 0) // no key, payload "p", no headers
	return binary.BigEndian.AppendUint32(old, crc32.Checksum(old, castagnoli))
}
