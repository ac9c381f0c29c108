package outbox_test

import (
	"context"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/agent/outbox/outboxtest"
)

func TestMain(m *testing.M) {
	if code, served := servePowerCut(); served {
		os.Exit(code) // the filesystem of the power-cut test
	}
	if path := os.Getenv(envCrashChild); path != "" {
		os.Exit(crashChildMain(path)) // a child of the crash tests, not a test run
	}
	goleak.VerifyTestMain(m)
}

// openStore and openAt are outboxtest's Open and OpenAt: a store that
// is closed and checked when the test ends.
var (
	openStore = outboxtest.Open
	openAt    = outboxtest.OpenAt
	checkFile = outboxtest.Check
)

// mustAppend appends recs or fails the test.
func mustAppend(t testing.TB, s *outbox.Store, recs ...outbox.Record) {
	t.Helper()
	if err := s.Append(context.Background(), recs...); err != nil {
		t.Fatalf("Append = %v", err)
	}
}

// next calls Next with a deadline, so a test never hangs on an empty store.
func next(t testing.TB, s *outbox.Store, max int) []outbox.Entry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	es, err := s.Next(ctx, max)
	if err != nil {
		t.Fatalf("Next(%d) = %v", max, err)
	}
	return es
}

// drainAll hands out and acks everything stored, returning the entries in
// the order they were handed out.
func drainAll(t testing.TB, s *outbox.Store) []outbox.Entry {
	t.Helper()
	var all []outbox.Entry
	for {
		st := s.Stats()
		if st.Control.Depth+st.Telemetry.Depth-st.InFlight <= 0 {
			return all
		}
		es := next(t, s, 64)
		all = append(all, es...)
		s.Ack(ids(es)...)
	}
}

func ids(es []outbox.Entry) []outbox.ID {
	out := make([]outbox.ID, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

func payloads(es []outbox.Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = string(e.Payload)
	}
	return out
}

// tel and ctl make small records of each lane.
func tel(payload string) outbox.Record {
	return outbox.Record{Lane: outbox.LaneTelemetry, Topic: "iot/v1/devices/gw-1/telemetry", Key: []byte("gw-1"), Payload: []byte(payload)}
}

func ctl(payload string) outbox.Record {
	return outbox.Record{Lane: outbox.LaneControl, Topic: "iot/v1/devices/gw-1/responses", Key: []byte("gw-1"), Payload: []byte(payload)}
}
