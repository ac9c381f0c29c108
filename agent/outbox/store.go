package outbox

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/iot-hub/agent/internal/lograte"
)

// Bucket names. The lanes' records are in segmentBuckets (segment.go);
// quarantine maps an ID (8 bytes, big-endian) to a quarantined record;
// topics maps a topic id to its name; meta holds the counters, and its
// sequence is the last ID given out.
var (
	quarantineBucket = []byte("quarantine")
	topicsBucket     = []byte("topics")
	metaBucket       = []byte("meta")
)

// Store is a durable, ordered, bounded queue of records in one bbolt file.
// All its methods are safe for concurrent use. Open one per file; the file
// is locked while open.
type Store struct {
	path string
	cfg  Config
	log  *slog.Logger
	// lines limits the lines whose pace the input sets: a commit per
	// append, an eviction per append while full, a record quarantined
	// per refusal.
	lines *lograte.Logger
	lock  *os.File // path.lock, locked from Open to Close

	// reqs carries appends to the writer; wake tells it acks or
	// quarantines are pending; stop ends it.
	reqs chan *appendReq
	wake chan struct{}
	stop chan struct{}
	done chan struct{}

	mu sync.Mutex
	db *bolt.DB // replaced by compaction; use under mu
	// wakes are closed, and forgotten, whenever entries may have become
	// ready: the waits of Next and TryNext.
	wakes  []chan struct{}
	closed bool
	// handedOut is closed and replaced whenever Next hands entries out.
	handedOut chan struct{}

	lanes   [numLanes]laneState
	pending [numLanes][]stagedRecord // appended, not committed yet; by ID

	// views are the uplinks' handing out, in the order of
	// Config.Uplinks; the store's own Next and the rest are the first's.
	views     []*view
	allRoutes Route // every view's bit
	routing   Routing
	// leaving holds the records acknowledged enough to be deleted, until
	// the deletion commits, so that no other view hands them out; only
	// with more than one view.
	leaving map[ID]struct{}
	// sweep: the routing changed, or the store opened, with more than
	// one view: records every carrier has are looked for below the
	// floors.
	sweep      bool
	duplicates uint64 // acknowledgements of records already deleted

	// Work for the writer's next transaction; and the work of the one
	// running, still counted by Stats until it commits.
	pendingDeletes    []pendingDelete
	pendingQuarantine []pendingQuarantine
	txDeletes         []pendingDelete
	txQuarantine      []pendingQuarantine
	pendingTopics     map[uint64]string

	topicIDs   map[string]uint64
	topicNames map[uint64]string
	nextTopic  uint64 // the id the next new topic gets

	lastID ID // the last ID given to a record

	headerKeys []string // interned by the arenas of TryNext; under mu

	memoBytes int64          // what the memos take, for compaction's live data
	memoKeys  map[uint64]int // stored memos by memoHash of their key

	room room // the disk's room, and the reserve; the writer's

	counters             counters // mirrored in the meta bucket
	countersDirty        bool     // counters changed outside a commit
	commits, compactions uint64
	compactFailed        time.Time // when the last compaction failed; the writer's
	quarantined          int
	salvaged             SalvageCounts // by Open, from a damaged file
	statsRead            statsRead     // what Stats read of the file, for its next call
}

// laneState is what the store keeps in memory of one lane's records.
type laneState struct {
	count int
	bytes int64
	// lastPut is at least the highest ID of the lane's records in the
	// file, 0 when it has none: deletions leave it. A view that stands
	// above it has nothing committed to take, and Next reads no file.
	lastPut ID
}

// counters are the persistent counters.
type counters struct {
	dropped DropCounts
}

// stagedRecord is a record appended and not committed yet: Next hands it
// out all the same, so that sending it overlaps the commit.
type stagedRecord struct {
	id   ID
	data []byte
}

type pendingDelete struct {
	id      ID
	lane    Lane
	expired bool // count it as dropped for expiry
}

type pendingQuarantine struct {
	id     ID
	lane   Lane
	reason string
}

// lockSuffix names the store's lock file.
const lockSuffix = ".lock"

// Open opens or creates the store in the bbolt file at path (its
// directory must exist). A file that is damaged or truncated is moved
// aside, to path.corrupt-<time>, and the store starts on a new file
// holding every record that could still be read of it (Stats.Salvaged);
// the name and the counts are logged at error level. The error is for what cannot be
// worked around: a bad Config, a file held by another process, a directory
// that cannot be written.
func Open(path string, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("outbox: open: %w", err)
	}
	cfg = cfg.withDefaults()
	s := &Store{
		path:          path,
		cfg:           cfg,
		log:           cfg.Logger,
		lines:         lograte.New(cfg.Logger, lograte.Config{Clock: cfg.Clock}),
		reqs:          make(chan *appendReq, 256),
		wake:          make(chan struct{}, 1),
		stop:          make(chan struct{}),
		done:          make(chan struct{}),
		leaving:       make(map[ID]struct{}),
		handedOut:     make(chan struct{}),
		pendingTopics: make(map[uint64]string),
		topicIDs:      make(map[string]uint64),
		topicNames:    make(map[uint64]string),
		nextTopic:     1,
		room: room{
			reserve: path + reserveSuffix,
			bytes:   cfg.ReserveBytes,
			limit:   lograte.NewLimiter(lograte.Config{Interval: roomLogInterval, Clock: cfg.Clock}),
		},
	}
	lock, err := lockFile(path+lockSuffix, time.Second)
	if err != nil {
		return nil, fmt.Errorf("outbox: open: %w", err)
	}
	db, salvaged, err := openFile(path, s.log, s.now())
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("outbox: open: %w", err)
	}
	s.db, s.lock, s.salvaged = db, lock, salvaged
	if err := s.load(); err != nil {
		db.Close()
		lock.Close()
		return nil, fmt.Errorf("outbox: open %s: %w", path, err)
	}
	if err := s.openReserve(); err != nil {
		db.Close()
		lock.Close()
		return nil, fmt.Errorf("outbox: open: reserve: %w", err)
	}
	go s.writer()
	return s, nil
}

// buckets are every bucket of the file.
var buckets = [][]byte{indexBuckets[0], indexBuckets[1], quarantineBucket, topicsBucket, metaBucket, memosBucket, memoOrderBucket, cursorsBucket}

// load creates the buckets of a new file and reads the state kept on disk.
// Opening an existing file writes nothing, unless it lacks a bucket a
// newer version added (cursors).
func (s *Store) load() error {
	complete := true
	_ = s.db.View(func(tx *bolt.Tx) error {
		for _, name := range buckets {
			complete = complete && tx.Bucket(name) != nil
		}
		return nil
	})
	if !complete {
		err := s.db.Update(func(tx *bolt.Tx) error {
			for _, name := range buckets {
				if _, err := tx.CreateBucketIfNotExists(name); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if err := upgrade(s.db, s.log); err != nil {
		return fmt.Errorf("upgrade: %w", err)
	}
	if err := s.loadViews(); err != nil {
		return err
	}
	return s.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(metaBucket)
		s.lastID = ID(meta.Sequence())
		s.memoBytes = int64(getUint64(meta, keyMemoBytes))
		s.memoKeys = make(map[uint64]int)
		if err := tx.Bucket(memosBucket).ForEach(func(k, _ []byte) error {
			s.memoKeys[memoHash(string(k))]++
			return nil
		}); err != nil {
			return err
		}
		s.counters = readCounters(meta)
		for l := range Lane(numLanes) {
			ls := &s.lanes[l]
			ls.count = int(getUint64(meta, laneCountKey(l)))
			ls.bytes = int64(getUint64(meta, laneBytesKey(l)))
			ls.lastPut = newSegments(tx).cursor(l).Last()
		}
		s.quarantined = int(getUint64(meta, keyQuarantined))
		return tx.Bucket(topicsBucket).ForEach(func(k, v []byte) error {
			id := binary.BigEndian.Uint64(k)
			s.nextTopic = max(s.nextTopic, id+1)
			name, err := decodeTopic(v)
			if err != nil {
				// Its records will be quarantined: sent to a wrong topic
				// they would reach the wrong consumers.
				s.log.Error("outbox: a stored topic name fails its checksum", "topicId", id)
				return nil
			}
			s.topicIDs[name] = id
			s.topicNames[id] = name
			return nil
		})
	})
}

// Close stops the store: it waits for appends already accepted to commit,
// commits pending acks, and closes the file. Appends after Close fail with
// ErrClosed; Next returns ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.notifyLocked()
	s.mu.Unlock()
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.db.Close()
	s.lock.Close() // releases the lock
	if err != nil {
		return fmt.Errorf("outbox: close: %w", err)
	}
	return nil
}

// notifyLocked wakes every Next waiting for entries. s.mu must be held.
func (s *Store) notifyLocked() {
	for _, w := range s.wakes {
		close(w)
	}
	s.wakes = s.wakes[:0]
}

// wakeWriter tells the writer there is work besides appends.
func (s *Store) wakeWriter() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func idKey(id ID) []byte { return binary.BigEndian.AppendUint64(nil, uint64(id)) }
func idOf(k []byte) ID   { return ID(binary.BigEndian.Uint64(k)) }

func laneBytesKey(l Lane) []byte { return []byte(l.String() + ".bytes") }
func laneCountKey(l Lane) []byte { return []byte(l.String() + ".count") }

var (
	keyDroppedCap     = []byte("dropped.cap")
	keyDroppedExpired = []byte("dropped.expired")
	keyDroppedRefused = []byte("dropped.refused")
	keyQuarantined    = []byte("quarantined")
)

func readCounters(meta *bolt.Bucket) counters {
	return counters{dropped: DropCounts{
		Cap:     getUint64(meta, keyDroppedCap),
		Expired: getUint64(meta, keyDroppedExpired),
		Refused: getUint64(meta, keyDroppedRefused),
	}}
}

func writeCounters(meta *bolt.Bucket, c counters) error {
	for k, v := range map[string]uint64{
		string(keyDroppedCap):     c.dropped.Cap,
		string(keyDroppedExpired): c.dropped.Expired,
		string(keyDroppedRefused): c.dropped.Refused,
	} {
		if err := putUint64(meta, []byte(k), v); err != nil {
			return err
		}
	}
	return nil
}

func getUint64(b *bolt.Bucket, k []byte) uint64 {
	if v := b.Get(k); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func putUint64(b *bolt.Bucket, k []byte, v uint64) error {
	return b.Put(k, binary.BigEndian.AppendUint64(nil, v))
}

// fileSize is the size of the store's file, or 0 when it cannot be read.
func (s *Store) fileSize() int64 {
	fi, err := os.Stat(s.path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// contextDone is ctx.Err wrapped for an operation.
func contextDone(op string, ctx context.Context) error {
	return fmt.Errorf("outbox: %s: %w", op, ctx.Err())
}

// now is the store's clock.
func (s *Store) now() time.Time { return s.cfg.Clock.Now() }
