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
// with many free pages), no freelist written to the file, and a lock
// timeout so a second agent on the same file fails instead of hanging.
//
// Without the freelist on disk a commit writes a page less: of the four a
// commit of a drain that keeps up writes (the meta page, the freelist, the
// root, a leaf of records), a quarter of the bytes (write amplification
// 1.23 to 0.91, docs/development.md). bbolt then finds the free pages at
// every Open, and after a write transaction that fails, by walking the
// tree (about 30 ms for 80 MiB on the 2-core VM); checkFile walks it
// first, so that a damaged page is salvaged rather than fault bbolt's
// walk, which runs in a goroutine of its own. A release that syncs the
// freelist opens such a file and writes one.
func boltOptions() *bolt.Options {
	return &bolt.Options{Timeout: time.Second, FreelistType: bolt.FreelistMapType, NoFreelistSync: true}
}

// openFile opens the bbolt file at path and checks it. A file that does
// not open as bbolt, is shorter than its own meta page says, or fails
// tx.Check is salvaged: what can still be read of it is copied into a new
// file, which replaces it, and the damaged file is moved aside for
// inspection; the agent must keep running. The counts are the salvage's.
func openFile(path string, log *slog.Logger, now time.Time) (*bolt.DB, SalvageCounts, error) {
	// Holding the lock now: a compaction or a salvage that did not
	// finish left its file, which nothing else can be using. A salvage
	// that moved the damaged file aside but had not renamed its own file
	// yet is finished here.
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		if err := atomicfile.Rename(path+salvageSuffix, path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, SalvageCounts{}, err
		}
	}
	for _, leftover := range []string{path + compactSuffix, path + salvageSuffix} {
		if err := os.Remove(leftover); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, SalvageCounts{}, err
		}
	}
	return openOrSalvage(path, log, now)
}

// openOrSalvage is checkedOpen, replacing a damaged file by what could
// be salvaged of it.
func openOrSalvage(path string, log *slog.Logger, now time.Time) (*bolt.DB, SalvageCounts, error) {
	db, err := checkedOpen(path)
	if err == nil {
		return db, SalvageCounts{}, nil
	}
	if !isDamage(err) {
		// Locked, out of descriptors, unreadable: the file may be fine,
		// so it stays where it is and the caller hears why.
		return nil, SalvageCounts{}, err
	}
	tmp := path + salvageSuffix
	counts, serr := salvage(path, tmp, now)
	if serr != nil {
		// No room for the copy, say: the store starts empty, as it must
		// start.
		os.Remove(tmp)
	}
	aside := fmt.Sprintf("%s.corrupt-%s", path, now.UTC().Format("20060102T150405.000"))
	if rerr := atomicfile.Rename(path, aside); rerr != nil {
		os.Remove(tmp)
		return nil, SalvageCounts{}, fmt.Errorf("%s is damaged (%w), and moving it aside failed: %w", path, err, rerr)
	}
	if serr == nil {
		if rerr := atomicfile.Rename(tmp, path); rerr != nil {
			return nil, SalvageCounts{}, fmt.Errorf("%s is damaged (%w), and its salvage %s could not replace it: %w", path, err, tmp, rerr)
		}
	}
	attrs := []any{"path", path, "movedTo", aside, "saved", counts.Saved, "lost", counts.Lost, "err", err}
	if serr != nil {
		attrs = append(attrs, "salvageErr", serr)
	}
	log.Error("outbox: file is damaged; moved aside, the records that could be read copied into a new file", attrs...)
	db, err = checkedOpen(path)
	return db, counts, err
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
	if err := checkFile(path); err != nil {
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
