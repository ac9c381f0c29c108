package outbox

import (
	"bytes"
	"cmp"
	"fmt"
	"os"
	"slices"
)

// verifyTree walks the tree of file f, of size bytes, before bbolt opens it,
// page by page with ReadAt (the salvage's reader), and refuses what
// would make bbolt fault or panic where no recover here can catch it:
// bbolt's consistency check (tx.Check) and its rebuilding of a freelist
// run in goroutines of their own, and a page whose key length points
// past the memory map faults there, which kills the process, at every
// start, with the file that did it. So this refuses a page out of
// bounds, one that is not the page it says, reached twice, neither a
// branch nor a leaf, an element past its page's end, keys out of order
// or outside their parent's range, a bucket's header cut short. And one
// thing of the store's own layout, which bbolt cannot know: a segment's
// keys must lie in its span of IDs, from its first up to the next
// segment's (see segments), and none above the highest its state says
// was put: a damaged key that stays in order can still run past them,
// and the drain, taking it for the lane's last, would pass the segments
// after it, and the records appended after it. It returns nil when bbolt may
// open the file, and an error marked errDamaged when the file must be
// salvaged instead.
//
// It walks the tree of metas[0], the newest meta page that is valid,
// the one bbolt opens (metas as readMetas returns them).
func verifyTree(f *os.File, size int64, metas []salvageMeta) error {
	if len(metas) == 0 {
		return nil // bbolt refuses it (ErrInvalid), in its own goroutine
	}
	m := metas[0]
	pf := &pageFile{f: f, pageSize: m.pageSize, pages: min(m.highWater, uint64(size)/uint64(m.pageSize))}
	v := verifier{pf: pf, seen: newBitset(pf.pages)}
	if err := v.tree(m.root, nil, nil); err != nil {
		return fmt.Errorf("%w: %w", errDamaged, err)
	}
	return nil
}

// verifier walks a file's tree for verifyTree.
type verifier struct {
	pf   *pageFile
	seen bitset
	// spans are each lane's segments, in the order of their first IDs,
	// read from its index (which the root's order has walked before the
	// segments); collect is where the entries of the index being walked
	// go, if not nil.
	spans   [numLanes][]segSpan
	collect *[]segSpan
}

// segSpan is what the index says of a segment: its first ID, and the
// highest put, 0 when its state does not decode (segments.state rebuilds
// it from the records).
type segSpan struct{ first, last ID }

// tree checks the tree under page id, whose keys must lie in [lo, hi)
// (nil for no bound), and the buckets its leaves hold.
func (v *verifier) tree(id uint64, lo, hi []byte) error {
	if id < 2 || id >= v.pf.pages {
		return fmt.Errorf("page %d: out of bounds (%d pages)", id, v.pf.pages)
	}
	p, ok := v.pf.page(id)
	if !ok {
		return fmt.Errorf("page %d: cannot be read, or is another page", id)
	}
	for o := range uint64(le.Uint32(p[12:])) + 1 {
		if v.seen.has(id + o) {
			return fmt.Errorf("page %d: reached twice", id+o)
		}
		v.seen.set(id + o)
	}
	switch flags := pageFlags(p); {
	case flags&branchPageFlag != 0:
		return v.branch(id, p, lo, hi)
	case flags&leafPageFlag != 0:
		return v.leaf(id, p, lo, hi)
	default:
		return fmt.Errorf("page %d: neither a branch nor a leaf (flags %#x)", id, flags)
	}
}

// branch checks branch page p and the trees under it.
func (v *verifier) branch(id uint64, p, lo, hi []byte) error {
	es := branchElems(p)
	if err := checkElements(id, p, es, func(e branchElem) []byte { return e.key }, lo, hi); err != nil {
		return err
	}
	for i, e := range es {
		childHi := hi
		if i+1 < len(es) {
			childHi = es[i+1].key
		}
		if err := v.tree(e.child, e.key, childHi); err != nil {
			return err
		}
	}
	return nil
}

// leaf checks leaf page p, or a bucket's inline page when id is 0, and
// the buckets it holds.
func (v *verifier) leaf(id uint64, p, lo, hi []byte) error {
	if len(p) < pageHeaderSize || pageFlags(p)&leafPageFlag == 0 {
		return fmt.Errorf("page %d: an inline bucket's page is not a leaf", id)
	}
	es := leafElems(p)
	if err := checkElements(id, p, es, func(e leafElem) []byte { return e.key }, lo, hi); err != nil {
		return err
	}
	for _, e := range es {
		if v.collect != nil && len(e.key) == 8 {
			span := segSpan{first: idOf(e.key)}
			if g, ok := decodeSegState(span.first, e.value); ok {
				span.last = g.last
			}
			*v.collect = append(*v.collect, span)
		}
		if !e.bucket {
			continue
		}
		if len(e.value) < bucketHeaderSize {
			return fmt.Errorf("page %d: bucket %q: its header is cut short", id, e.key)
		}
		if err := v.bucket(e.key, e.value); err != nil {
			return err
		}
	}
	return nil
}

// bucket checks the bucket name whose header (and inline page) is hdr:
// a segment's keys within its span, an index's keys kept for the spans.
func (v *verifier) bucket(name, hdr []byte) error {
	var lo, hi []byte
	collect := v.collect
	v.collect = nil
	if l, first, ok := segmentOf(name); ok {
		lo = idKey(first)
		spans := v.spans[l]
		if i, found := slices.BinarySearchFunc(spans, first, func(s segSpan, id ID) int { return cmp.Compare(s.first, id) }); found {
			var next ID
			if i+1 < len(spans) {
				next = spans[i+1].first
			}
			hi = segmentEnd(next, spans[i].last)
		}
	}
	for l, index := range indexBuckets {
		if string(name) == string(index) {
			v.collect = &v.spans[l]
		}
	}
	defer func() { v.collect = collect }()
	if root := le.Uint64(hdr); root != 0 {
		return v.tree(root, lo, hi)
	}
	return v.leaf(0, hdr[bucketHeaderSize:], lo, hi)
}

// checkElements checks that every element of page p (id) is within it,
// es being those that are, and that their keys (key tells one) are within
// [lo, hi) (nil for no bound), each above the one before it.
func checkElements[E any](id uint64, p []byte, es []E, key func(E) []byte, lo, hi []byte) error {
	if n := int(le.Uint16(p[10:])); pageHeaderSize+n*pageElementSize > len(p) || len(es) != n {
		return fmt.Errorf("page %d: %d of its %d elements past its end", id, n-len(es), n)
	}
	for i, e := range es {
		k := key(e)
		if lo != nil && bytes.Compare(k, lo) < 0 || hi != nil && bytes.Compare(k, hi) >= 0 {
			return fmt.Errorf("page %d: key %d outside its parent's range", id, i)
		}
		if i > 0 && bytes.Compare(key(es[i-1]), k) >= 0 {
			return fmt.Errorf("page %d: key %d not above the key before it", id, i)
		}
	}
	return nil
}
