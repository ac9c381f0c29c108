// Package outboxtest opens outboxes for the tests of every package: a
// real store file, closed when the test ends and then checked with
// bbolt's consistency check.
package outboxtest

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/iot-hub/agent/agent/outbox"
)

// Open opens a store with cfg in a new file of tb's temporary directory,
// and returns it with the file's path.
func Open(tb testing.TB, cfg outbox.Config) (*outbox.Store, string) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "outbox.db")
	return OpenAt(tb, path, cfg), path
}

// OpenAt opens the store at path with cfg, failing tb if it cannot. When
// tb ends, the store is closed (a test may close it before, to open it
// again) and the file checked.
func OpenAt(tb testing.TB, path string, cfg outbox.Config) *outbox.Store {
	tb.Helper()
	s, err := outbox.Open(path, cfg)
	if err != nil {
		tb.Fatalf("outbox.Open(%s) = %v", path, err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("outbox Close = %v", err)
		}
		Check(tb, path)
	})
	return s
}

// Check runs bbolt's consistency check on the closed store file at path.
func Check(tb testing.TB, path string) {
	tb.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		tb.Errorf("open %s for checking: %v", path, err)
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
		tb.Errorf("tx.Check(%s): %v", path, err)
	}
}
