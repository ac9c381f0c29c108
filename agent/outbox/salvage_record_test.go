package outbox

import (
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestSalvageRecordKeepsToItsLaneAndSpan: the salvage copies a record
// into the lane it is read for only when the record names that lane (or,
// of format 1, none), and only when its key is not above the highest ID
// its segment's state says was put. An orphaned page, which the salvage
// gives to a lost range by its keys alone, may be an old copy of the
// other lane's page (TestSalvageRandomDamage found 11 in 1,500 damages,
// without a freelist on disk), or hold a damaged key.
func TestSalvageRecordKeepsToItsLaneAndSpan(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "salvaged.db"), 0o600, boltOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c := &copier{batchWriter: batchWriter{db: db, batch: salvageBatch}, topics: map[uint64]bool{1: true}}
	at := time.UnixMilli(1_700_000_000_000)
	telemetry := encodeRecord(nil, &Record{Lane: LaneTelemetry, Topic: "t", Payload: []byte("reading")}, 1, at)
	control := encodeRecord(nil, &Record{Lane: LaneControl, Topic: "t", Payload: []byte("answer")}, 1, at)
	state := &segState{first: 1, last: 8, puts: 8, live: 8}

	for _, tc := range []struct {
		name      string
		lane      Lane
		id        ID
		value     []byte
		state     *segState
		saved     bool
		countsBad bool
	}{
		{"a telemetry record read for the control lane", LaneControl, 5, telemetry, nil, false, false},
		{"a control record read for the control lane", LaneControl, 6, control, state, true, false},
		{"a telemetry record read for its lane", LaneTelemetry, 7, telemetry, nil, true, false},
		{"a record of format 1, which names no lane", LaneControl, 8, formatOneRecord(at, 1), state, true, false},
		{"a key above the highest put", LaneControl, 9, control, state, false, true},
	} {
		saved, bad := c.saved, c.bad
		c.record(tc.lane, leafElem{key: idKey(tc.id), value: tc.value}, tc.state)
		if got := c.saved > saved; got != tc.saved {
			t.Errorf("%s: saved %v; want %v", tc.name, got, tc.saved)
		}
		if got := c.bad > bad; got != tc.countsBad {
			t.Errorf("%s: counted bad %v; want %v", tc.name, got, tc.countsBad)
		}
	}
	c.commit()
	if c.err != nil {
		t.Fatal(c.err)
	}
}
