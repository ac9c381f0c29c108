package outbox

import (
	"bytes"
	"encoding/binary"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// SalvageCounts counts the records Open copied out of a damaged file
// before moving it aside: Saved made it into the new file; Lost did not
// (their page could not be read, they failed their checksum, or their
// topic's name was lost). Lost is the file's own count of its records,
// when its meta bucket could be read, less those saved; otherwise the
// records seen that could not be read, a lower bound.
type SalvageCounts struct {
	Saved, Lost uint64
}

// salvageSuffix names the file a salvage writes, renamed over the
// store's file once complete.
const salvageSuffix = ".salvage"

// connectionCursor is the cursor in which package status keeps the last
// connection number, in decimal: it must never go backwards (see
// seedConnection).
const connectionCursor = "status/connection"

// salvageBatch is how many bytes the salvage writes per transaction.
const salvageBatch = 4 << 20

// salvage copies what can still be read of the damaged bbolt file src
// into a new file dst: the records that pass their checksum and whose
// topic is known, in their lane, under their ID; the topics; the
// quarantined records; the memos and the cursors that pass their
// checksums; the drop counters and the uplinks' route bits. The uplinks'
// floors are left: what they had acknowledged is sent again. The meta
// bucket's counters are those of what was copied, its sequence at least
// the highest ID. now seeds the connection number when it was lost.
func salvage(src, dst string, now time.Time) (SalvageCounts, error) {
	f, err := os.Open(src)
	if err != nil {
		return SalvageCounts{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return SalvageCounts{}, err
	}
	db, err := bolt.Open(dst, 0o600, boltOptions())
	if err != nil {
		return SalvageCounts{}, err
	}
	c := &copier{batchWriter: batchWriter{db: db, batch: salvageBatch}, segs: make(map[segKey][]byte), states: make(map[segKey]*segState), topics: make(map[uint64]bool), meta: make(map[string][]byte)}
	// The newer meta page whose root page can be read: bbolt keeps the
	// tree of the commit before the last intact, for its other meta page.
	c.cursorsLost = true
	metas := readMetas(f)
	read := false
	for _, m := range metas {
		pf := &pageFile{f: f, pageSize: m.pageSize, pages: min(m.highWater, uint64(fi.Size())/uint64(m.pageSize))}
		if _, ok := pf.page(m.root); ok {
			c.cursorsLost = false
			c.read(&walker{pf: pf, seen: newBitset(pf.pages)}, m)
			read = true
			break
		}
	}
	if !read && len(metas) > 0 {
		// Both meta pages' roots are lost (the file's end cut off, say):
		// walk from the newest older root still in the file instead.
		m := metas[0]
		pf := &pageFile{f: f, pageSize: m.pageSize, pages: min(m.highWater, uint64(fi.Size())/uint64(m.pageSize))}
		if root, ok := newestOldRoot(pf); ok {
			m.root = root
			c.oldRoot = true
			c.read(&walker{pf: pf, seen: newBitset(pf.pages)}, m)
		} else {
			c.bad = countRecords(pf)
		}
	}
	c.finish(now)
	if cerr := db.Close(); c.err == nil {
		c.err = cerr
	}
	if c.err != nil {
		return SalvageCounts{}, c.err
	}
	counts := SalvageCounts{Saved: c.saved, Lost: c.bad}
	if n, ok := c.metaCount(); ok && n > c.saved {
		counts.Lost = max(counts.Lost, n-c.saved)
	}
	return counts, nil
}

// copier writes what a salvage reads into the new file, a transaction
// per salvageBatch bytes.
type copier struct {
	batchWriter

	segs   map[segKey][]byte    // the segments the root holds: their headers
	states map[segKey]*segState // the segments' states read
	topics map[uint64]bool      // the topic ids copied
	meta   map[string][]byte    // the damaged file's meta bucket
	seq    uint64               // the highest ID, or the meta's sequence

	saved, bad  uint64 // records copied, and seen and not copied
	lanes       [numLanes]laneState
	quarantined uint64
	memos       struct{ count, bytes, seq uint64 }
	cursorsLost bool // a cursor, or the cursors' bucket, could not be read
	// oldRoot: the walk starts from a root of an earlier commit (see
	// newestOldRoot), whose cursors may be behind: the connection
	// number's is not copied, but seeded.
	oldRoot bool
}

// read walks the damaged file whose newer valid meta page is m.
func (c *copier) read(w *walker, m salvageMeta) {
	w.seen.set(0)
	w.seen.set(1)
	if m.freelist < w.pf.pages {
		w.seen.set(m.freelist)
	}
	roots := make(map[string][]byte)
	w.walk("", m.root, []byte{}, nil, func(e leafElem) {
		if e.bucket {
			roots[string(e.key)] = slices.Clone(e.value)
		}
	})
	handlers := map[string]func(leafElem){
		string(topicsBucket):     c.topic,
		string(metaBucket):       c.metaEntry,
		string(quarantineBucket): c.quarantine,
		string(memosBucket):      c.memo,
		string(cursorsBucket):    c.cursor,
	}
	names := []string{string(topicsBucket), string(metaBucket)} // first: the records need them
	for l := range Lane(numLanes) {
		// A file of the release before segments has its records in
		// laneBuckets; one upgraded and opened by that release again
		// has both. The index first: the segments need their states.
		old, index := string(laneBuckets[l]), string(indexBuckets[l])
		handlers[old] = func(e leafElem) { c.record(l, e, nil) }
		handlers[index] = c.index(l)
		if _, ok := roots[old]; ok {
			names = append(names, old)
		}
		if _, ok := roots[index]; ok || roots[old] == nil {
			names = append(names, index)
		}
	}
	for name, hdr := range roots {
		if l, first, ok := segmentOf([]byte(name)); ok {
			c.segs[segKey{l, first}] = hdr
		}
	}
	names = append(names, string(quarantineBucket), string(memosBucket), string(cursorsBucket))
	for _, name := range names {
		hdr, ok := roots[name]
		if !ok {
			w.lost = append(w.lost, lostRange{bucket: name, lo: []byte{}})
			continue
		}
		if name == string(metaBucket) && len(hdr) >= bucketHeaderSize {
			c.seq = max(c.seq, le.Uint64(hdr[8:]))
		}
		w.bucket(name, hdr, handlers[name])
	}
	c.segments(w, handlers)
	if hdr, ok := roots[string(memoOrderBucket)]; ok && len(hdr) >= bucketHeaderSize {
		c.memos.seq = max(c.memos.seq, le.Uint64(hdr[8:]))
	}
	free, _ := w.pf.freePages(m.freelist)
	w.orphans(free, handlers)
	for _, r := range w.lost {
		if r.bucket == string(cursorsBucket) || r.bucket == "" {
			c.cursorsLost = true
		}
	}
}

func (c *copier) topic(e leafElem) {
	if len(e.key) != 8 {
		return
	}
	if _, err := decodeTopic(e.value); err == nil && c.put(topicsBucket, e.key, e.value) {
		c.topics[binary.BigEndian.Uint64(e.key)] = true
	}
}

// metaEntry keeps what the new file takes of the meta bucket, the drop
// counters and the uplinks' route bits (records stored for one uplink
// stay its own), and the lanes' counts, of the records lost.
func (c *copier) metaEntry(e leafElem) {
	k := string(e.key)
	kept := strings.HasPrefix(k, "dropped.") || strings.HasPrefix(k, "uplink.") && strings.HasSuffix(k, ".route")
	if len(e.value) == 8 && (kept || k == string(laneCountKey(LaneControl)) || k == string(laneCountKey(LaneTelemetry))) {
		c.meta[k] = slices.Clone(e.value)
	}
}

// index returns the handler of lane l's index: it keeps the segments'
// states, for the segments to be walked with.
func (c *copier) index(l Lane) func(leafElem) {
	return func(e leafElem) {
		if e.bucket || len(e.key) != 8 {
			return
		}
		if g, ok := decodeSegState(idOf(e.key), e.value); ok {
			c.states[segKey{l, g.first}] = g
		}
	}
}

// segments walks the segments of the lanes, each with a handler of its
// own, registered in handlers for its pages that only the orphans' scan
// finds.
//
// A segment's keys are the IDs from its first up to the next segment's
// of its lane, which the index, or else the segments found, tell, and
// none above the highest its state says was put (segmentEnd): what it
// loses is bounded so, and an orphaned page of the other lane, whose IDs
// run between, is left when that lane lost the range too, rather than
// put in the wrong lane. (One the other lane lost nothing for is taken,
// and its records left out by the lane each names: see record. Records
// of format 1, converted from the release before segments, do not name
// it.) A segment the index names and the root does not hold (its header
// lost) loses its whole span, for the orphans' scan.
func (c *copier) segments(w *walker, handlers map[string]func(leafElem)) {
	var firsts [numLanes][]ID
	for k := range c.segs {
		firsts[k.lane] = append(firsts[k.lane], k.first)
	}
	for k := range c.states {
		if _, ok := c.segs[k]; !ok {
			firsts[k.lane] = append(firsts[k.lane], k.first)
		}
	}
	for l := range Lane(numLanes) {
		slices.Sort(firsts[l])
		for i, first := range firsts[l] {
			key := segKey{l, first}
			name := string(segmentName(l, first))
			state := c.states[key]
			var next, last ID
			if i+1 < len(firsts[l]) {
				next = firsts[l][i+1]
			}
			if state != nil {
				last = state.last
			}
			hi := segmentEnd(next, last)
			h := func(e leafElem) { c.record(l, e, state) }
			handlers[name] = h
			hdr, ok := c.segs[key]
			if !ok {
				w.lost = append(w.lost, lostRange{bucket: name, lo: idKey(first), hi: hi})
				continue
			}
			from := len(w.lost)
			w.bucket(name, hdr, h)
			for j := from; j < len(w.lost); j++ {
				r := &w.lost[j]
				if bytes.Compare(r.lo, idKey(first)) < 0 {
					r.lo = idKey(first)
				}
				if hi != nil && (r.hi == nil || bytes.Compare(r.hi, hi) > 0) {
					r.hi = hi
				}
			}
		}
	}
}

// record copies a record of lane l that passes its checksum and whose
// topic is known, unless its segment's state says it is gone, or was
// never put, as its key is above the highest put (state may be nil). A
// record that names the other lane is left out, uncounted: an orphaned
// page whose keys fall in a lost range of l's may be an old copy of the
// other lane's page, freed, as the lanes' IDs interleave (a file without
// a freelist on disk keeps no account of the pages freed).
func (c *copier) record(l Lane, e leafElem, state *segState) {
	if e.bucket || len(e.key) == 8 && state != nil && state.gone(idOf(e.key)) {
		return
	}
	var rec Entry
	topic, err := decodeRecord(e.value, nil, &rec)
	if len(e.key) != 8 || idOf(e.key) == 0 || err != nil || !c.topics[topic] || state != nil && idOf(e.key) > state.last {
		c.bad++ // a key above the highest put was damaged
		return
	}
	if lane, ok := storedLane(e.value); ok && lane != l {
		return
	}
	if c.putRecord(l, idOf(e.key), e.value) {
		c.saved++
		c.lanes[l].count++
		c.lanes[l].bytes += int64(len(e.value))
		c.seq = max(c.seq, uint64(idOf(e.key)))
	}
}

// quarantine copies a quarantined record (its lane, its reason, the
// record) as it is: it is never sent.
func (c *copier) quarantine(e leafElem) {
	if len(e.key) == 8 && len(e.value) > 0 && e.value[0] < numLanes && c.put(quarantineBucket, e.key, e.value) {
		c.quarantined++
		c.seq = max(c.seq, uint64(idOf(e.key)))
	}
}

// memo copies a memo that passes its checksum, and puts it back in the
// order of memos by its own sequence number.
func (c *copier) memo(e leafElem) {
	seq, _, _, ok := decodeMemo(e.value)
	if !ok || len(e.key) == 0 || len(e.key) > MaxMemoKey || !c.put(memosBucket, e.key, e.value) {
		return
	}
	c.put(memoOrderBucket, binary.BigEndian.AppendUint64(nil, seq), e.key)
	c.memos.count++
	c.memos.bytes += memoSize(e.key, e.value)
	c.memos.seq = max(c.memos.seq, seq)
}

func (c *copier) cursor(e leafElem) {
	if _, ok := decodeCursor(string(e.key), e.value); !ok || len(e.key) == 0 || len(e.key) > MaxCursorName || c.oldRoot && string(e.key) == connectionCursor {
		c.cursorsLost = true
		return
	}
	c.put(cursorsBucket, e.key, e.value)
}

// metaCount is how many records the damaged file said it held.
func (c *copier) metaCount() (uint64, bool) {
	var n uint64
	for l := range Lane(numLanes) {
		v, ok := c.meta[string(laneCountKey(l))]
		if !ok {
			return 0, false
		}
		n += binary.BigEndian.Uint64(v)
	}
	return n, true
}

// finish writes the meta bucket of the new file and every bucket the
// store has, and commits.
func (c *copier) finish(now time.Time) {
	if c.cursorsLost {
		c.seedConnection(now)
	}
	if c.err != nil {
		c.commit()
		return
	}
	if !c.begin() {
		return
	}
	c.err = func() error {
		for _, name := range buckets {
			if _, err := c.tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		meta := c.tx.Bucket(metaBucket)
		for k, v := range c.meta {
			if strings.HasPrefix(k, "dropped.") || strings.HasPrefix(k, "uplink.") {
				if err := meta.Put([]byte(k), v); err != nil {
					return err
				}
			}
		}
		for k, v := range map[string]uint64{
			string(laneCountKey(LaneControl)):   uint64(c.lanes[LaneControl].count),
			string(laneBytesKey(LaneControl)):   uint64(c.lanes[LaneControl].bytes),
			string(laneCountKey(LaneTelemetry)): uint64(c.lanes[LaneTelemetry].count),
			string(laneBytesKey(LaneTelemetry)): uint64(c.lanes[LaneTelemetry].bytes),
			string(keyQuarantined):              c.quarantined,
			string(keyMemoCount):                c.memos.count,
			string(keyMemoBytes):                c.memos.bytes,
		} {
			if err := putUint64(meta, []byte(k), v); err != nil {
				return err
			}
		}
		if err := meta.SetSequence(c.seq); err != nil {
			return err
		}
		return c.tx.Bucket(memoOrderBucket).SetSequence(c.memos.seq)
	}()
	c.commit()
}

// seedConnection keeps the connection number from going backwards when
// its cursor was lost, or may have been: consumers rank a device's
// statuses by it, and a number given again would rank the device's new
// statuses below its old ones. The number is seeded with the time in
// Unix milliseconds, above any number the store gave before unless it
// gave more than one a millisecond since the file was made (the numbers
// go up by one a connection; a gap does no harm). A clock still at 1970
// after a boot without a real-time clock makes it low: a few hours'
// milliseconds are still tens of millions.
func (c *copier) seedConnection(now time.Time) {
	seed := strconv.AppendUint(nil, uint64(max(now.UnixMilli(), 1)), 10)
	c.put(cursorsBucket, []byte(connectionCursor), encodeCursor(connectionCursor, seed)) // unless it was saved
}
