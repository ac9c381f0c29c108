package outbox

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"hash/maphash"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Memo is a small value the store keeps under a key, written in the same
// commit as the records of an AppendMemo. The RPC dispatcher keeps there
// the answer to each command, so that a command delivered again, even
// after a crash, is answered from it instead of run twice. Memos are
// bounded by Config.MemoMaxCount and Config.MemoMaxAge; the oldest go
// first.
type Memo struct {
	// Key names the memo; non-empty, at most MaxMemoKey bytes.
	Key string
	// Value is what is kept, at most MaxMemoValue bytes.
	Value []byte
}

// Memo limits.
const (
	MaxMemoKey   = 1 << 10
	MaxMemoValue = 64 << 10
)

// Buckets of memos: memos maps a key to its stored memo; memoOrder maps a
// sequence number (its bucket's sequence) to the key, oldest first.
var (
	memosBucket     = []byte("memos")
	memoOrderBucket = []byte("memos.order")
	keyMemoCount    = []byte("memos.count")
	keyMemoBytes    = []byte("memos.bytes")
)

// memoWrite is a memo on its way to the writer.
type memoWrite struct {
	key   []byte
	value []byte
	at    time.Time
}

// AppendMemo stores recs as Append does and m with them, in the same
// commit: either both are on disk when it returns nil, or neither is.
// A memo under the same key is replaced. recs may be empty.
func (s *Store) AppendMemo(ctx context.Context, m Memo, recs ...Record) error {
	switch {
	case m.Key == "" || len(m.Key) > MaxMemoKey:
		return fmt.Errorf("outbox: append memo: %w: key of %d bytes (1..%d)", ErrInvalidRecord, len(m.Key), MaxMemoKey)
	case len(m.Value) > MaxMemoValue:
		return fmt.Errorf("outbox: append memo %q: %w: value of %d bytes, at most %d", m.Key, ErrTooLarge, len(m.Value), MaxMemoValue)
	}
	return s.append(ctx, &memoWrite{key: []byte(m.Key), value: m.Value, at: s.now()}, recs)
}

// Memo returns the value kept under key; ok is false when there is none,
// or it is older than MemoMaxAge, or it fails its checksum (then it is
// logged and treated as absent).
func (s *Store) Memo(key string) (value []byte, ok bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, false, fmt.Errorf("outbox: memo: %w", ErrClosed)
	}
	if s.memoKeys[memoHash(key)] == 0 {
		return nil, false, nil // none: no need to read the file
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(memosBucket).Get([]byte(key))
		if v == nil {
			return nil
		}
		_, at, val, good := decodeMemo(v)
		switch {
		case !good:
			s.lines.Error("memo checksum", "outbox: a memo fails its checksum; ignored", "key", key)
		case s.now().Sub(at) <= s.cfg.MemoMaxAge:
			value, ok = append([]byte(nil), val...), true
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("outbox: memo: %w", err)
	}
	return value, ok, nil
}

// memoHash is the key of a memo in Store.memoKeys, which counts the
// stored memos by the hash of their key: most commands are new, and their
// lookup then needs no read of the file.
func memoHash(key string) uint64 { return maphash.String(memoSeed, key) }

var memoSeed = maphash.MakeSeed()

// putMemo stores m in the write transaction tx.
func (s *Store) putMemo(tx *bolt.Tx, st *txState, m *memoWrite) error {
	memos, order := tx.Bucket(memosBucket), tx.Bucket(memoOrderBucket)
	meta := tx.Bucket(metaBucket)
	count, size := getUint64(meta, keyMemoCount), getUint64(meta, keyMemoBytes)
	if old := memos.Get(m.key); old != nil {
		seq, _, _, _ := decodeMemo(old)
		if err := order.Delete(binary.BigEndian.AppendUint64(nil, seq)); err != nil {
			return err
		}
		count--
		size -= min(size, memoSize(m.key, old))
		st.memosGone = append(st.memosGone, memoHash(string(m.key)))
	}
	st.memosNew = append(st.memosNew, memoHash(string(m.key)))
	seq, err := order.NextSequence()
	if err != nil {
		return err
	}
	if err := order.Put(binary.BigEndian.AppendUint64(nil, seq), m.key); err != nil {
		return err
	}
	v := encodeMemo(seq, m.at, m.value)
	if err := memos.Put(m.key, v); err != nil {
		return err
	}
	if err := putUint64(meta, keyMemoBytes, size+memoSize(m.key, v)); err != nil {
		return err
	}
	return putUint64(meta, keyMemoCount, count+1)
}

// memoSize is what a stored memo counts for: its key and value, and its
// entry in the order bucket.
func memoSize(key, stored []byte) uint64 { return uint64(2*len(key) + len(stored) + 8) }

// pruneMemos deletes the oldest memos while there are more than
// MemoMaxCount or they are older than MemoMaxAge.
func (s *Store) pruneMemos(tx *bolt.Tx, st *txState) error {
	memos, order := tx.Bucket(memosBucket), tx.Bucket(memoOrderBucket)
	meta := tx.Bucket(metaBucket)
	count := getUint64(meta, keyMemoCount)
	cutoff := s.now().Add(-s.cfg.MemoMaxAge)
	var seqs, keys [][]byte
	c := order.Cursor()
	for k, key := c.First(); k != nil; k, key = c.Next() {
		if count-uint64(len(keys)) <= uint64(s.cfg.MemoMaxCount) {
			v := memos.Get(key)
			if _, at, _, good := decodeMemo(v); v != nil && good && !at.Before(cutoff) {
				break
			}
		}
		seqs, keys = append(seqs, append([]byte(nil), k...)), append(keys, append([]byte(nil), key...))
	}
	size := getUint64(meta, keyMemoBytes)
	for i := range seqs {
		if err := order.Delete(seqs[i]); err != nil {
			return err
		}
		if v := memos.Get(keys[i]); v != nil {
			size -= min(size, memoSize(keys[i], v))
		}
		if err := memos.Delete(keys[i]); err != nil {
			return err
		}
		st.memosGone = append(st.memosGone, memoHash(string(keys[i])))
	}
	if len(keys) == 0 {
		return nil
	}
	if err := putUint64(meta, keyMemoBytes, size); err != nil {
		return err
	}
	return putUint64(meta, keyMemoCount, count-uint64(len(keys)))
}

// A stored memo is its order sequence (8 bytes), when it was written (Unix
// nanoseconds, 8), the value, and a CRC-32C of all that (4).
func encodeMemo(seq uint64, at time.Time, value []byte) []byte {
	b := make([]byte, 0, 20+len(value))
	b = binary.BigEndian.AppendUint64(b, seq)
	b = binary.BigEndian.AppendUint64(b, uint64(at.UnixNano()))
	b = append(b, value...)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func decodeMemo(b []byte) (seq uint64, at time.Time, value []byte, ok bool) {
	if len(b) < 20 {
		return 0, time.Time{}, nil, false
	}
	body := b[:len(b)-4]
	if crc32.Checksum(body, castagnoli) != binary.BigEndian.Uint32(b[len(b)-4:]) {
		return 0, time.Time{}, nil, false
	}
	return binary.BigEndian.Uint64(body), time.Unix(0, int64(binary.BigEndian.Uint64(body[8:]))), body[16:], true
}
