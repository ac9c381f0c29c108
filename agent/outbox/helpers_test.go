package outbox_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/goleak"

	"github.com/iot-hub/agent/agent/outbox"
)

func TestMain(m *testing.M) {
	if path := os.Getenv(envCrashChild); path != "" {
		os.Exit(crashChildMain(path)) // a child of the crash tests, not a test run
	}
	goleak.VerifyTestMain(m)
}

// openStore opens a store in a new temporary file; on cleanup it closes
// the store and checks the file's consistency with bbolt's tx.Check.
func openStore(t testing.TB, cfg outbox.Config) (*outbox.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "outbox.db")
	return openAt(t, path, cfg), path
}

// openAt opens the store at path with the same cleanup as openStore.
func openAt(t testing.TB, path string, cfg outbox.Config) *outbox.Store {
	t.Helper()
	s, err := outbox.Open(path, cfg)
	if err != nil {
		t.Fatalf("Open(%s) = %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close = %v", err)
		}
		checkFile(t, path)
	})
	return s
}

// checkFile runs bbolt's consistency check on a closed store file.
func checkFile(t testing.TB, path string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Errorf("open %s for checking: %v", path, err)
		return
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	})
	if err != nil {
		t.Errorf("tx.Check(%s): %v", path, err)
	}
}

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
