package outbox

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"

	bolt "go.etcd.io/bbolt"
)

// Cursor limits: a name is 1..MaxCursorName bytes, a value at most
// MaxCursorValue bytes, and a store keeps at most MaxCursors of them.
// Cursors do not count against Config.MaxBytes, which is about records:
// they are bounded by these limits (about 1.3 MiB at most), and a full
// queue never keeps a consumer from recording its progress.
const (
	MaxCursorName  = 256
	MaxCursorValue = 1 << 10
	MaxCursors     = 1024
)

// cursorsBucket maps a cursor's name to its stored value (encodeCursor).
var cursorsBucket = []byte("cursors")

// cursorWrite is a PutCursor or DeleteCursor on its way to the writer.
type cursorWrite struct {
	name   []byte
	stored []byte // encodeCursor's; nil deletes
}

// PutCursor durably records value under name, replacing what was there:
// how far a consumer of the agent's input has got (a Kafka partition's next
// offset). It returns once the value is on disk, fsynced, sharing a commit
// with concurrent appends (the writer's group commit). Cursors are few and
// small (name 1..MaxCursorName bytes, value at most MaxCursorValue); they
// live apart from records and memos, are kept until replaced or deleted, and
// survive compaction and restarts.
//
// Cursors do not count against Config.MaxBytes: PutCursor succeeds when
// the queue is full. It fails with ErrInvalidRecord for a bad name,
// ErrTooLarge for a value too long, ErrFull when name is new and
// MaxCursors are stored already, ErrClosed after Close. PutCursor keeps
// no reference to value.
//
// Puts to one name apply in the order the writer receives them: a consumer
// puts its cursor from one goroutine, each put after the last returned.
// If ctx ends before the commit, PutCursor returns its error, and the
// value may or may not have been stored.
func (s *Store) PutCursor(ctx context.Context, name string, value []byte) error {
	op := fmt.Sprintf("put cursor %q", name)
	if err := checkCursorName(op, name); err != nil {
		return err
	}
	if len(value) > MaxCursorValue {
		return fmt.Errorf("outbox: %s: %w: value of %d bytes, at most %d", op, ErrTooLarge, len(value), MaxCursorValue)
	}
	return s.writeCursor(ctx, op, &cursorWrite{name: []byte(name), stored: encodeCursor(name, value)})
}

// DeleteCursor removes the cursor under name, if there is one, durably
// like PutCursor.
func (s *Store) DeleteCursor(ctx context.Context, name string) error {
	op := fmt.Sprintf("delete cursor %q", name)
	if err := checkCursorName(op, name); err != nil {
		return err
	}
	return s.writeCursor(ctx, op, &cursorWrite{name: []byte(name)})
}

// Cursor returns the value last put under name; ok is false when there is none.
// A value that fails its checksum is logged and treated as absent. A
// PutCursor under way is seen once its commit is over.
func (s *Store) Cursor(name string) (value []byte, ok bool, err error) {
	op := fmt.Sprintf("cursor %q", name)
	if err := checkCursorName(op, name); err != nil {
		return nil, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, false, fmt.Errorf("outbox: %s: %w", op, ErrClosed)
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(cursorsBucket).Get([]byte(name))
		if v == nil {
			return nil
		}
		val, good := decodeCursor(name, v)
		if !good {
			s.log.Error("outbox: a cursor fails its checksum; ignored", "cursor", name)
			return nil
		}
		value, ok = append([]byte{}, val...), true
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("outbox: %s: %w", op, err)
	}
	return value, ok, nil
}

func checkCursorName(op, name string) error {
	if name == "" || len(name) > MaxCursorName {
		return fmt.Errorf("outbox: %s: %w: name of %d bytes (1..%d)", op, ErrInvalidRecord, len(name), MaxCursorName)
	}
	return nil
}

// writeCursor hands w to the writer, as a control request: it commits at
// once, with whatever appends are waiting.
func (s *Store) writeCursor(ctx context.Context, op string, w *cursorWrite) error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return fmt.Errorf("outbox: %s: %w", op, ErrClosed)
	}
	return s.send(ctx, op, &appendReq{cursor: w, control: true, done: make(chan error, 1)})
}

// applyCursor writes w in the write transaction tx. It reports false,
// having written nothing, when w would add a cursor past MaxCursors.
func applyCursor(tx *bolt.Tx, w *cursorWrite) (bool, error) {
	b := tx.Bucket(cursorsBucket)
	if w.stored == nil {
		return true, b.Delete(w.name)
	}
	if b.Get(w.name) == nil {
		// Counted with a cursor (bbolt's), which sees this transaction's
		// puts, where Bucket.Stats would not.
		n := 0
		c := b.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			n++
		}
		if n >= MaxCursors {
			return false, nil
		}
	}
	return true, b.Put(w.name, w.stored)
}

// errTooManyCursors is the outcome of a PutCursor applyCursor refused.
var errTooManyCursors = fmt.Errorf("%w: %d cursors stored already", ErrFull, MaxCursors)

// cursorBytesLocked is what the cursors take in the file, for compaction's
// live data; 0 if it cannot be read. s.mu must be held.
func (s *Store) cursorBytesLocked() int64 {
	var n int64
	_ = s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(cursorsBucket).ForEach(func(k, v []byte) error {
			n += int64(len(k) + len(v))
			return nil
		})
	})
	return n
}

// A stored cursor is its value and a CRC-32C (4 bytes, big-endian) of its
// name and value: a cursor read under a name that rotted fails it too.
func encodeCursor(name string, value []byte) []byte {
	b := make([]byte, 0, len(value)+4)
	b = append(b, value...)
	crc := crc32.Update(crc32.Checksum([]byte(name), castagnoli), castagnoli, value)
	return binary.BigEndian.AppendUint32(b, crc)
}

func decodeCursor(name string, b []byte) (value []byte, ok bool) {
	if len(b) < 4 {
		return nil, false
	}
	value = b[:len(b)-4]
	crc := crc32.Update(crc32.Checksum([]byte(name), castagnoli), castagnoli, value)
	return value, crc == binary.BigEndian.Uint32(b[len(b)-4:])
}
