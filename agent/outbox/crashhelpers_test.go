package outbox_test

// Helpers of the durability tests (crash_test.go, corruption_test.go,
// space_test.go) that helpers_test.go does not have; they use its openAt,
// checkFile and ids too.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/iot-hub/agent/agent/outbox"
)

// boltHighWater returns the size of the file that the last committed meta
// page says is in use (pages beyond it are unused allocation).
func boltHighWater(t testing.TB, path string) int64 {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatalf("bolt.Open(%s): %v", path, err)
	}
	defer db.Close()
	var size int64
	if err := db.View(func(tx *bolt.Tx) error { size = tx.Size(); return nil }); err != nil {
		t.Fatal(err)
	}
	return size
}

// movedAside lists the files Open moved aside for path.
func movedAside(t testing.TB, path string) []string {
	t.Helper()
	m, err := filepath.Glob(path + ".corrupt-*")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// drainExactly takes n entries from s with Next, max per call, and fails
// the test if they do not all come within timeout, saying which entries
// did come, by lane: the IDs tell records missing from the file from
// records the store did not hand out. It does not ack them.
func drainExactly(t testing.TB, s *outbox.Store, n, max int, timeout time.Duration) []outbox.Entry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []outbox.Entry
	for len(out) < n {
		es, err := s.Next(ctx, min(max, n-len(out)))
		if err != nil {
			t.Fatalf("Next after %d of %d entries: %v (stats %+v); handed out: %s", len(out), n, err, s.Stats(), entryIDs(out))
		}
		out = append(out, es...)
	}
	return out
}

// entryIDs lists the IDs of es by lane, for a failure's message.
func entryIDs(es []outbox.Entry) string {
	var byLane [2][]outbox.ID
	for _, e := range es {
		if int(e.Lane) < len(byLane) {
			byLane[e.Lane] = append(byLane[e.Lane], e.ID)
		}
	}
	return fmt.Sprintf("control %v, telemetry %v", byLane[outbox.LaneControl], byLane[outbox.LaneTelemetry])
}

// expectNoEntry fails the test if Next hands out anything within wait.
// It is the negative check after a drain, so wait is short.
func expectNoEntry(t testing.TB, s *outbox.Store, wait time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	es, err := s.Next(ctx, 16)
	if err == nil {
		t.Fatalf("Next handed out %d more entries, want none; first: id %d payload %q", len(es), es[0].ID, es[0].Payload)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next: %v, want a deadline error", err)
	}
}

// pollUntil calls cond until it returns true, failing the test with what
// after timeout. It is how the tests wait for the store's background work.
func pollUntil(t testing.TB, timeout time.Duration, what func() string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not true after %v: %s", timeout, what())
		}
		time.Sleep(time.Millisecond)
	}
}

// fileSizeOf is the size of the file at path, failing the test if it cannot
// be read.
func fileSizeOf(t testing.TB, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// The tests that start a child (the crash tests, an Open under a file
// limit, a second process on a locked file) run their child through
// childBinary. Under qemu-user, a fork of the emulated, multithreaded test
// binary sometimes never reaches exec (Debian 12's qemu 7.2.22: the child
// waits on a futex for ever, about one run of the ARM suite in four), so
// scripts/outbox-arch.sh runs these tests natively with an emulated child:
// the writer that is killed is the ARM build, the kernel is the host's
// either way.
const (
	// envChildBinary names the program to run as the child instead of
	// this test binary: a test binary of another GOARCH behind its
	// emulator.
	envChildBinary = "OUTBOX_TEST_CHILD"
	// envEmulated is set while the test binary itself runs under
	// qemu-user, where starting a child is what must not be done.
	envEmulated = "OUTBOX_TEST_EMULATED"
)

// childBinary returns the program a test runs as its child: os.Args[0],
// or the one envChildBinary names. Under emulation (envEmulated) it fails
// the test: scripts/outbox-arch.sh must run it natively, and lists it in
// its REEXEC.
func childBinary(t testing.TB) string {
	t.Helper()
	if os.Getenv(envEmulated) != "" {
		t.Fatalf("%s starts a child, which an emulated test binary cannot do reliably: add it to REEXEC in scripts/outbox-arch.sh", t.Name())
	}
	if b := os.Getenv(envChildBinary); b != "" {
		return b
	}
	return os.Args[0]
}
