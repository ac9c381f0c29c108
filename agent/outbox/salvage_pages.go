package outbox

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"io"
	"os"
	"slices"
)

// The salvage reads a damaged bbolt file itself, page by page with
// ReadAt, instead of through bbolt: bbolt trusts its pages, and a damaged
// one can make it panic, fault on its memory map, or walk a cycle of
// pages for ever. Here every page is read once at most, every offset and
// length is checked against the page that holds it, and the memory held
// is a page (with its overflow) at a time and a bit per page.
//
// The layout is bbolt's, in the native byte order (little-endian on every
// target of the agent): a page starts with a header (id 8 bytes, flags 2,
// count 2, overflow 4); a branch page's elements are (pos 4, ksize 4,
// child page id 8), a leaf page's (flags 4, pos 4, ksize 4, vsize 4),
// pos counting from the element itself; a leaf element with flags 1 is a
// bucket, whose value is the bucket's header (root page id 8, sequence 8)
// followed, when the root is 0, by the bucket's inline page.

const (
	pageHeaderSize   = 16
	pageElementSize  = 16
	branchPageFlag   = 0x01
	leafPageFlag     = 0x02
	freelistPageFlag = 0x10
	bucketLeafFlag   = 0x01
	bucketHeaderSize = 16
	// maxSalvagePage bounds a page with its overflow, the most the
	// salvage holds at once: a record is at most a few MiB.
	maxSalvagePage = 32 << 20
)

var le = binary.LittleEndian

// pageFile reads the pages of a damaged file.
type pageFile struct {
	f        *os.File
	pageSize int
	pages    uint64 // pages that can be read: the meta's high water, or fewer if the file is shorter
}

// page returns page id with its overflow, or false when it cannot be
// read, lies past the end, or is not the page its header says.
func (pf *pageFile) page(id uint64) ([]byte, bool) {
	if id < 2 || id >= pf.pages {
		return nil, false
	}
	head := make([]byte, pf.pageSize)
	if _, err := pf.f.ReadAt(head, int64(id)*int64(pf.pageSize)); err != nil {
		return nil, false
	}
	if le.Uint64(head) != id {
		return nil, false
	}
	overflow := uint64(le.Uint32(head[12:]))
	if overflow == 0 {
		return head, true
	}
	if overflow >= pf.pages-id || (overflow+1)*uint64(pf.pageSize) > maxSalvagePage {
		return nil, false
	}
	p := make([]byte, (overflow+1)*uint64(pf.pageSize))
	if _, err := pf.f.ReadAt(p, int64(id)*int64(pf.pageSize)); err != nil && err != io.EOF {
		return nil, false
	}
	return p, true
}

func pageFlags(p []byte) uint16 { return le.Uint16(p[8:]) }

// pageCount is the page's element count, bounded by what fits in p.
func pageCount(p []byte) int {
	return min(int(le.Uint16(p[10:])), (len(p)-pageHeaderSize)/pageElementSize)
}

// leafElem is an element of a leaf page; key and value alias the page.
type leafElem struct {
	bucket     bool
	key, value []byte
}

// leafElems returns the elements of leaf page p (a page read by pageFile,
// or a bucket's inline page) whose key and value lie inside p.
func leafElems(p []byte) []leafElem {
	if len(p) < pageHeaderSize || pageFlags(p)&leafPageFlag == 0 {
		return nil
	}
	n := pageCount(p)
	out := make([]leafElem, 0, n)
	for i := range n {
		at := pageHeaderSize + i*pageElementSize
		e := p[at : at+pageElementSize]
		start := uint64(at) + uint64(le.Uint32(e[4:]))
		kEnd := start + uint64(le.Uint32(e[8:]))
		vEnd := kEnd + uint64(le.Uint32(e[12:]))
		if vEnd > uint64(len(p)) {
			continue
		}
		out = append(out, leafElem{bucket: le.Uint32(e)&bucketLeafFlag != 0, key: p[start:kEnd:kEnd], value: p[kEnd:vEnd:vEnd]})
	}
	return out
}

// branchElem is an element of a branch page: the first key under child.
type branchElem struct {
	key   []byte
	child uint64
}

// branchElems returns the elements of branch page p whose key lies
// inside p.
func branchElems(p []byte) []branchElem {
	if pageFlags(p)&branchPageFlag == 0 {
		return nil
	}
	n := pageCount(p)
	out := make([]branchElem, 0, n)
	for i := range n {
		at := pageHeaderSize + i*pageElementSize
		e := p[at : at+pageElementSize]
		start := uint64(at) + uint64(le.Uint32(e))
		end := start + uint64(le.Uint32(e[4:]))
		if end > uint64(len(p)) {
			continue
		}
		out = append(out, branchElem{key: p[start:end:end], child: le.Uint64(e[8:])})
	}
	return out
}

// freePages reads the freelist page id: the pages free or pending when
// the meta was written. ok is false when it cannot be read.
func (pf *pageFile) freePages(id uint64) (free bitset, ok bool) {
	p, ok := pf.page(id)
	if !ok || pageFlags(p)&freelistPageFlag == 0 {
		return nil, false
	}
	n, at := uint64(le.Uint16(p[10:])), uint64(pageHeaderSize)
	if n == 0xFFFF { // the count is the first id
		n, at = le.Uint64(p[pageHeaderSize:]), at+8
	}
	if n > (uint64(len(p))-at)/8 {
		return nil, false
	}
	free = newBitset(pf.pages)
	for i := range n {
		if fid := le.Uint64(p[at+8*i:]); fid < pf.pages {
			free.set(fid)
		}
	}
	return free, true
}

// bitset is a bit per page.
type bitset []uint64

func newBitset(n uint64) bitset    { return make(bitset, (n+63)/64) }
func (b bitset) has(i uint64) bool { return b[i/64]&(1<<(i%64)) != 0 }
func (b bitset) set(i uint64)      { b[i/64] |= 1 << (i % 64) }
func inRange(k, lo, hi []byte) bool {
	return bytes.Compare(k, lo) >= 0 && (hi == nil || bytes.Compare(k, hi) < 0)
}

// salvageMeta is what a valid meta page says.
type salvageMeta struct {
	pageSize       int
	root, freelist uint64 // the root bucket's page, the freelist's
	highWater      uint64 // pages in use
	txid           uint64
}

// readMetas returns the file's valid meta pages, the newer first.
func readMetas(f *os.File) []salvageMeta {
	head := make([]byte, 64<<10)
	n, err := f.ReadAt(head, 0)
	if err != nil && err != io.EOF {
		return nil
	}
	var ms []salvageMeta
	head = head[:n]
	for _, off := range []int{0, 4096, 8192, 16384, 32768} {
		pageSize, valid := parseMeta(head, off)
		if !valid || (off != 0 && off != int(pageSize)) || pageSize < 1024 || pageSize > 1<<20 {
			continue
		}
		b := head[off+pageHeaderSize:]
		ms = append(ms, salvageMeta{pageSize: int(pageSize), root: le.Uint64(b[16:]), freelist: le.Uint64(b[32:]), highWater: le.Uint64(b[40:]), txid: le.Uint64(b[48:])})
	}
	slices.SortFunc(ms, func(a, b salvageMeta) int { return cmp.Compare(b.txid, a.txid) })
	return ms
}
