package outbox

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/iot-hub/agent/internal/atomicfile"
)

// boltOptions are the options of every file: the hashmap freelist (fast
// with many free pages) and a lock timeout so a second agent on the same
// file fails instead of hanging. The freelist stays synced to the file
// (a page per commit): with NoFreelistSync bbolt rebuilds it at open in a
// goroutine of its own, where a damaged file panics beyond any recover.
func boltOptions() *bolt.Options {
	return &bolt.Options{Timeout: time.Second, FreelistType: bolt.FreelistMapType}
}

// openFile opens the bbolt file at path and checks it. A file that does
// not open as bbolt, is shorter than its own meta page says, or fails
// tx.Check is moved aside and replaced by a new one: the agent must keep
// running, and the damaged file is kept for inspection.
func openFile(path string, log *slog.Logger) (*bolt.DB, error) {
	db, err := openOrReplace(path, log)
	if err != nil {
		return nil, err
	}
	// Holding the lock now: a compaction that did not finish left its
	// temporary file, which nothing else can be using.
	if err := os.Remove(path + compactSuffix); err != nil && !errors.Is(err, os.ErrNotExist) {
		db.Close()
		return nil, err
	}
	return db, nil
}

// openOrReplace is checkedOpen, replacing a damaged file by a new one.
func openOrReplace(path string, log *slog.Logger) (*bolt.DB, error) {
	db, err := checkedOpen(path)
	if err == nil {
		return db, nil
	}
	if !isDamage(err) {
		// Locked, out of descriptors, unreadable: the file may be fine,
		// so it stays where it is and the caller hears why.
		return nil, err
	}
	aside := fmt.Sprintf("%s.corrupt-%s", path, time.Now().UTC().Format("20060102T150405.000"))
	if rerr := atomicfile.Rename(path, aside); rerr != nil {
		return nil, fmt.Errorf("%s is damaged (%w), and moving it aside failed: %w", path, err, rerr)
	}
	log.Error("outbox: file is damaged; moved aside, starting with an empty outbox",
		"path", path, "movedTo", aside, "err", err)
	return checkedOpen(path)
}

// errDamaged marks the errors that show the file itself is damaged.
var errDamaged = errors.New("file is damaged")

// isDamage reports whether err shows a damaged file, one to move aside,
// rather than a failure to open a file that may be fine.
func isDamage(err error) bool {
	return errors.Is(err, errDamaged) || errors.Is(err, bolterrors.ErrInvalid) ||
		errors.Is(err, bolterrors.ErrVersionMismatch) || errors.Is(err, bolterrors.ErrChecksum)
}

// checkedOpen opens path and checks its consistency. Reading a page past
// the end of a truncated file faults (SIGBUS); the fault is turned into an
// error here instead of killing the process.
func checkedOpen(path string) (db *bolt.DB, err error) {
	if err := checkLength(path); err != nil {
		return nil, err
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			if db != nil {
				db.Close()
			}
			db, err = nil, fmt.Errorf("%w: %v", errDamaged, p)
		}
	}()
	db, err = bolt.Open(path, 0o600, boltOptions())
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(path)
	if err == nil {
		err = db.View(func(tx *bolt.Tx) error {
			if tx.Size() > fi.Size() {
				return fmt.Errorf("%w: truncated: %d bytes, its meta page says %d", errDamaged, fi.Size(), tx.Size())
			}
			var errs []error
			for cerr := range tx.Check() {
				errs = append(errs, cerr)
			}
			if len(errs) > 0 {
				return fmt.Errorf("%w: %w", errDamaged, errors.Join(errs...))
			}
			return nil
		})
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}
