package outbox_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/outbox"
)

// TestUpgradeOpensAndDrainsAFileOfTheLastRelease opens a store file the
// release before segments wrote (testdata/upgrade/write_v1.go: records
// keyed by ID in the lane buckets, some acknowledged, one quarantined,
// some in flight when it closed, a memo and a cursor) and drains it:
// every record not acknowledged comes out once, in lane order, as it was
// appended, and nothing else is lost.
func TestUpgradeOpensAndDrainsAFileOfTheLastRelease(t *testing.T) {
	path := outbox.CopyUpgradeFile(t)
	s := openAt(t, path, outbox.Config{})
	st := s.Stats()
	if st.Control.Depth != 16 || st.Telemetry.Depth != 1049 || st.Quarantined != 1 || st.Err != nil {
		t.Fatalf("Stats = control %d, telemetry %d, quarantined %d, err %v; want 16, 1049, 1, nil",
			st.Control.Depth, st.Telemetry.Depth, st.Quarantined, st.Err)
	}
	if v, ok, err := s.Memo("cmd-1"); !ok || err != nil || string(v) != "answered" {
		t.Errorf("Memo(cmd-1) = %q, %v, %v; want answered", v, ok, err)
	}
	if v, ok, err := s.Cursor("kafka/commands/0"); !ok || err != nil || string(v) != "42" {
		t.Errorf("Cursor(kafka/commands/0) = %q, %v, %v; want 42", v, ok, err)
	}

	var want []string
	for i := 5; i < 20; i++ {
		want = append(want, fmt.Sprintf("c-%02d", i))
	}
	want = append(want, "answer-1")
	for i := range 1200 {
		if i >= 100 && i < 250 || i > 300 {
			want = append(want, fmt.Sprintf("t-%04d reading reading reading reading reading", i))
		}
	}
	es := drainAll(t, s)
	if got := payloads(es); !slices.Equal(got, want) {
		t.Fatalf("drained %d records, want %d; first difference at %d", len(got), len(want), firstDiff(got, want))
	}
	far := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, e := range es {
		var n int
		switch {
		case e.Lane == outbox.LaneControl && e.Topic == "iot/v1/devices/gw-1/status":
			if !e.Retain || string(e.Key) != "gw-1" {
				t.Errorf("status %q: retain %v, key %q; want true, gw-1", e.Payload, e.Retain, e.Key)
			}
		case e.Lane == outbox.LaneTelemetry:
			if _, err := fmt.Sscanf(string(e.Payload), "t-%d", &n); err != nil {
				t.Fatal(err)
			}
			wantHeaders := n%100 == 7
			if got := len(e.Headers) == 1 && string(e.Headers[0].Value) == fmt.Sprintf("c-%d", n); got != wantHeaders {
				t.Errorf("t-%04d: headers %v, want them: %v", n, e.Headers, wantHeaders)
			}
			if wantHeaders != e.Expiry.Equal(far) || e.Topic != "iot/v1/devices/gw-1/telemetry" {
				t.Errorf("t-%04d: expiry %v, topic %q", n, e.Expiry, e.Topic)
			}
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path, outbox.Config{})
	if st := s.Stats(); st.Control.Depth+st.Telemetry.Depth != 0 || st.Quarantined != 1 {
		t.Errorf("after the drain and a restart: %d records, %d quarantined; want 0, 1", st.Control.Depth+st.Telemetry.Depth, st.Quarantined)
	}
}

// firstDiff is the first index where a and b differ.
func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
