package outbox

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// copyUpgradeFile copies testdata/upgrade/v1.db, a file of the release
// before segments, into a new directory of t's, and returns its path.
func copyUpgradeFile(t testing.TB) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "upgrade", "v1.db"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "outbox.db")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestUpgradeGoesOnAfterACrash stops an upgrade of testdata/upgrade/v1.db
// after its first transaction, as a crash would (part of the telemetry in
// segments, the rest still in the old bucket), then opens the file: the
// upgrade goes on, the old buckets go, and every record is handed out
// once, in order.
func TestUpgradeGoesOnAfterACrash(t *testing.T) {
	path := copyUpgradeFile(t)
	db, err := bolt.Open(path, 0o600, boltOptions())
	if err != nil {
		t.Fatal(err)
	}
	var moved int
	err = db.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(indexBuckets[LaneTelemetry]); err != nil {
			return err
		}
		var done bool
		moved, done, err = upgradeStep(tx, LaneTelemetry, 16<<10)
		if done {
			t.Error("the first step of 16 KiB moved the whole lane")
		}
		return err
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil || moved == 0 {
		t.Fatalf("first step: moved %d records, err %v", moved, err)
	}

	s, err := Open(path, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.db.View(func(tx *bolt.Tx) error {
		for _, b := range laneBuckets {
			if tx.Bucket(b) != nil {
				t.Errorf("bucket %s is still there after the upgrade", b)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	seen := make(map[ID]bool)
	var last [numLanes]ID
	for len(seen) < 16+1049 {
		es, err := s.Next(ctx, 100)
		if err != nil {
			t.Fatalf("after %d records: %v", len(seen), err)
		}
		for _, e := range es {
			if seen[e.ID] || e.ID < last[e.Lane] {
				t.Fatalf("record %d of lane %v handed out again or out of order", e.ID, e.Lane)
			}
			seen[e.ID], last[e.Lane] = true, e.ID
			s.Ack(e.ID)
		}
	}
	if st := s.Stats(); st.Control.Depth+st.Telemetry.Depth != 0 {
		t.Errorf("after handing out %d records: depth %d+%d", len(seen), st.Control.Depth, st.Telemetry.Depth)
	}
}
