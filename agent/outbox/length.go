package outbox

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
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
	metas := readMetas(f)
	var need int64
	for _, m := range metas {
		need = max(need, int64(m.highWater)*int64(m.pageSize))
	}
	if fi.Size() < need {
		return fmt.Errorf("%w: truncated: %d bytes, its meta page says %d", errDamaged, fi.Size(), need)
	}
	return verifyTree(f, fi.Size(), metas)
}

// parseMeta reads the meta page at offset off of head: its page size, if
// its magic and checksum hold.
func parseMeta(head []byte, off int) (pageSize uint32, ok bool) {
	const pageHeader, metaLen, sumAt = 16, 64, 56
	if len(head) < off+pageHeader+metaLen {
		return 0, false
	}
	m := head[off+pageHeader : off+pageHeader+metaLen]
	le := binary.LittleEndian
	if le.Uint32(m[0:]) != 0xED0CDAED { // bbolt's magic
		return 0, false
	}
	h := fnv.New64a()
	h.Write(m[:sumAt])
	if h.Sum64() != le.Uint64(m[sumAt:]) {
		return 0, false
	}
	return le.Uint32(m[8:]), true
}
