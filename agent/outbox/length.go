package outbox

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"os"
)

// checkFile refuses a file that is shorter than its bbolt meta pages
// say, before bbolt maps it: bbolt would read pages past the end of the
// file, which faults, and on some platforms inside bbolt.Open, where the
// mapping could not be released. It reads the two meta pages as bbolt
// lays them out (native byte order: little-endian on every target of the
// agent) and uses only those whose checksum holds; a file without a valid
// meta page is left to bbolt to refuse. Then it walks the file's tree
// (verifyTree).
func checkFile(path string) error {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		return err
	}
	head := make([]byte, 64<<10)
	n, err := io.ReadFull(f, head)
	if err != nil && err != io.ErrUnexpectedEOF {
		return err
	}
	head = head[:n]
	var need int64
	for _, off := range []int{0, 4096, 8192, 16384, 32768} {
		pgid, pageSize, ok := parseMeta(head, off)
		if ok && (off == 0 || off == int(pageSize)) {
			need = max(need, int64(pgid)*int64(pageSize))
		}
	}
	if fi.Size() < need {
		return fmt.Errorf("%w: truncated: %d bytes, its meta page says %d", errDamaged, fi.Size(), need)
	}
	return verifyTree(f, fi.Size())
}

// parseMeta reads the meta page at offset off of head: the high-water page
// id and the page size, if its magic and checksum hold.
func parseMeta(head []byte, off int) (pgid uint64, pageSize uint32, ok bool) {
	const pageHeader, metaLen, sumAt = 16, 64, 56
	if len(head) < off+pageHeader+metaLen {
		return 0, 0, false
	}
	m := head[off+pageHeader : off+pageHeader+metaLen]
	le := binary.LittleEndian
	if le.Uint32(m[0:]) != 0xED0CDAED { // bbolt's magic
		return 0, 0, false
	}
	h := fnv.New64a()
	h.Write(m[:sumAt])
	if h.Sum64() != le.Uint64(m[sumAt:]) {
		return 0, 0, false
	}
	return le.Uint64(m[40:]), le.Uint32(m[8:]), true
}
