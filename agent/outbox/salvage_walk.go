package outbox

import (
	"bytes"
	"slices"
)

// lostRange is keys of a bucket under a page that could not be read:
// from lo, up to hi (nil for no bound).
type lostRange struct {
	bucket string
	lo, hi []byte
}

// walker walks the trees of a damaged file, each page once.
type walker struct {
	pf   *pageFile
	seen bitset
	lost []lostRange
}

// bucket calls fn for each element of the bucket name, whose header (and
// inline page) is hdr, in key order.
func (w *walker) bucket(name string, hdr []byte, fn func(leafElem)) {
	if len(hdr) < bucketHeaderSize {
		w.lost = append(w.lost, lostRange{bucket: name, lo: []byte{}})
		return
	}
	if root := le.Uint64(hdr); root != 0 {
		w.walk(name, root, []byte{}, nil, fn)
		return
	}
	for _, e := range leafElems(hdr[bucketHeaderSize:]) {
		fn(e)
	}
}

// walk calls fn for each element, with a key in [lo, hi), of the tree of
// bucket under page id. A page that cannot be read, or is not a branch
// or a leaf, loses its keys' range; a page seen already (pages in a
// cycle, a child pointer gone astray) is skipped.
func (w *walker) walk(bucket string, id uint64, lo, hi []byte, fn func(leafElem)) {
	if id < w.pf.pages {
		if w.seen.has(id) {
			return
		}
		w.seen.set(id)
	}
	p, ok := w.pf.page(id)
	if !ok || pageFlags(p)&(branchPageFlag|leafPageFlag) == 0 {
		w.lost = append(w.lost, lostRange{bucket: bucket, lo: slices.Clone(lo), hi: slices.Clone(hi)})
		return
	}
	for o := range uint64(le.Uint32(p[12:])) {
		w.seen.set(id + 1 + o)
	}
	if pageFlags(p)&leafPageFlag != 0 {
		for _, e := range leafElems(p) {
			if inRange(e.key, lo, hi) {
				fn(e)
			}
		}
		return
	}
	es := branchElems(p)
	for i, e := range es {
		clo, chi := lo, hi
		if i > 0 && bytes.Compare(e.key, lo) > 0 {
			clo = e.key
		}
		if i+1 < len(es) && (hi == nil || bytes.Compare(es[i+1].key, hi) < 0) {
			chi = es[i+1].key
		}
		w.walk(bucket, e.child, clo, chi, fn)
	}
}

// orphans hands the leaf pages no walk reached, that are not free either,
// to the bucket whose lost range holds every key of the page: the pages
// under a branch page that could not be read. A page whose keys fall in
// the lost ranges of more than one bucket, or of none, is left. free
// may be nil (the freelist could not be read): pages freed since, whose
// records were deleted, may then come back, to be sent again.
func (w *walker) orphans(free bitset, handlers map[string]func(leafElem)) {
	if len(w.lost) == 0 {
		return
	}
	for id := uint64(2); id < w.pf.pages; id++ {
		if w.seen.has(id) || (free != nil && free.has(id)) {
			continue
		}
		p, ok := w.pf.page(id)
		if !ok || pageFlags(p)&leafPageFlag == 0 {
			continue
		}
		id += uint64(le.Uint32(p[12:])) // its overflow
		es := leafElems(p)
		if len(es) == 0 {
			continue
		}
		var owner *lostRange
		for i := range w.lost {
			r := &w.lost[i]
			if _, ok := handlers[r.bucket]; !ok || !inRange(es[0].key, r.lo, r.hi) || !inRange(es[len(es)-1].key, r.lo, r.hi) {
				continue
			}
			if owner != nil && owner.bucket != r.bucket {
				owner = nil
				break
			}
			owner = r
		}
		if owner == nil {
			continue
		}
		for _, e := range es {
			if !e.bucket && inRange(e.key, owner.lo, owner.hi) {
				handlers[owner.bucket](e)
			}
		}
	}
}

// newestOldRoot looks through the readable pages of pf for the newest
// root of an earlier commit: bbolt writes a commit's pages anew and
// frees the old ones, which stay in the file until reused. A root is a
// leaf page whose elements are all buckets, the store's lanes and meta
// among them; the newest has the highest sequence in its meta bucket's
// header (the IDs given out by then), and of those the highest page id.
// It reports false when there is none.
func newestOldRoot(pf *pageFile) (uint64, bool) {
	var best, bestSeq uint64
	for id := uint64(2); id < pf.pages; id++ {
		p, ok := pf.page(id)
		if !ok {
			continue
		}
		id += uint64(le.Uint32(p[12:])) // its overflow
		seq, ok := rootSequence(p)
		if ok && (best == 0 || seq >= bestSeq) {
			best, bestSeq = id-uint64(le.Uint32(p[12:])), seq
		}
	}
	return best, best != 0
}

// rootSequence reports whether page p is the store's root, and its meta
// bucket's sequence.
func rootSequence(p []byte) (uint64, bool) {
	es := leafElems(p)
	if len(es) == 0 {
		return 0, false
	}
	var seq uint64
	found := 0
	for _, e := range es {
		if !e.bucket || len(e.value) < bucketHeaderSize {
			return 0, false
		}
		switch string(e.key) {
		case string(metaBucket):
			seq = le.Uint64(e.value[8:])
			found++
		case string(laneBuckets[0]), string(laneBuckets[1]), string(indexBuckets[0]), string(indexBuckets[1]):
			found++
		}
	}
	return seq, found >= 3
}

// countRecords counts the records, by their keys, on the readable leaf
// pages of pf, the pages of records deleted since included: with no root
// to walk, what a salvage can say of the records it could not send (their
// topics' names are lost with the root).
func countRecords(pf *pageFile) uint64 {
	keys := make(map[uint64]bool)
	for id := uint64(2); id < pf.pages; id++ {
		p, ok := pf.page(id)
		if !ok {
			continue
		}
		id += uint64(le.Uint32(p[12:])) // its overflow
		for _, e := range leafElems(p) {
			var rec Entry
			if _, err := decodeRecord(e.value, nil, &rec); err == nil && !e.bucket && len(e.key) == 8 {
				keys[uint64(idOf(e.key))] = true
			}
		}
	}
	return uint64(len(keys))
}
