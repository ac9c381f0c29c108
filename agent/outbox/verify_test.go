package outbox

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestVerifyTree damages a sound store file in the ways verifyTree must
// refuse before bbolt reads it: a key running past its page (bbolt's
// check, in a goroutine of its own, faulted on one and killed the
// process: found by TestSalvageRandomDamage with other seeds), keys out
// of order, a page reached twice, a page that is not the page it says;
// and a key of a segment, still in order, past the segment's span (the
// drain took it for the lane's last and passed the segments after it:
// also found by TestSalvageRandomDamage), or in the lane's last segment
// above the highest ID put (the records appended after it were never
// handed out: the same).
func TestVerifyTree(t *testing.T) {
	dir := t.TempDir()
	sound := filepath.Join(dir, "sound.db")
	s, err := Open(sound, Config{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 700 { // three segments
		r := Record{Lane: LaneTelemetry, Topic: "t", Payload: fmt.Appendf(nil, "%0500d", i)}
		if err := s.Append(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := checkFile(sound); err != nil {
		t.Fatalf("checkFile(a sound file) = %v", err)
	}
	data, err := os.ReadFile(sound)
	if err != nil {
		t.Fatal(err)
	}
	leaf, branch := pageOfType(t, sound, leafPageFlag), pageOfType(t, sound, branchPageFlag)
	le32 := func(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
	for _, tc := range []struct {
		name  string
		at    int64 // where to write, in the file
		bytes []byte
	}{
		{"key past its page", int64(leaf)*4096 + 16 + 8, le32(0x7fffffff)},
		{"keys out of order", int64(leaf)*4096 + 16 + pageElementSize + 4, le32(0)},
		{"page reached twice", int64(branch)*4096 + 16 + pageElementSize + 8, binary.LittleEndian.AppendUint64(nil, childOf(data, branch, 0))},
		{"another page's id", int64(leaf) * 4096, binary.LittleEndian.AppendUint64(nil, uint64(leaf+1))},
		{"a key past its segment", lastKeyOfSegment(t, sound, false), []byte{0x7f, 0, 0, 0, 0, 0, 0, 0}},
		{"a key of the last segment above the highest put", lastKeyOfSegment(t, sound, true), []byte{0x7f, 0, 0, 0, 0, 0, 0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "damaged.db")
			damaged := append([]byte(nil), data...)
			copy(damaged[tc.at:], tc.bytes)
			if err := os.WriteFile(path, damaged, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := checkFile(path); !errors.Is(err, errDamaged) {
				t.Fatalf("checkFile = %v; want the file refused as damaged", err)
			}
		})
	}
}

// pageOfType is the first page in use of the file at path with flag.
func pageOfType(t *testing.T, path string, flag uint16) uint64 {
	t.Helper()
	db, err := bolt.Open(path, 0o600, boltOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var found uint64
	_ = db.View(func(tx *bolt.Tx) error {
		for id := 2; found == 0; id++ {
			p, err := tx.Page(id)
			if err != nil || p == nil {
				break
			}
			if flag == leafPageFlag && p.Type == "leaf" && p.Count > 2 || flag == branchPageFlag && p.Type == "branch" && p.Count > 1 {
				found = uint64(id)
			}
		}
		return nil
	})
	if found == 0 {
		t.Fatalf("no page with flag %#x and elements in %s", flag, path)
	}
	return found
}

// lastKeyOfSegment is where, in the file at path, the last key of the
// first telemetry segment is, or of the last one.
func lastKeyOfSegment(t *testing.T, path string, lastSegment bool) int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	db, err := bolt.Open(path, 0o600, boltOptions())
	if err != nil {
		t.Fatal(err)
	}
	var root uint64
	err = db.View(func(tx *bolt.Tx) error {
		k, _ := tx.Bucket(indexBuckets[LaneTelemetry]).Cursor().First()
		if next, _ := tx.Bucket(indexBuckets[LaneTelemetry]).Cursor().Last(); string(next) == string(k) {
			t.Fatal("one telemetry segment; the test needs two")
		}
		if lastSegment {
			k, _ = tx.Bucket(indexBuckets[LaneTelemetry]).Cursor().Last()
		}
		root = uint64(tx.Bucket(segmentName(LaneTelemetry, idOf(k))).Root())
		return nil
	})
	db.Close()
	if err != nil || root == 0 {
		t.Fatalf("the first segment's root: %d, %v", root, err)
	}
	pf := &pageFile{f: f, pageSize: 4096, pages: uint64(fileSize(t, path) / 4096)}
	id := root
	for {
		p, ok := pf.page(id)
		if !ok {
			t.Fatalf("page %d cannot be read", id)
		}
		if es := branchElems(p); len(es) > 0 {
			id = es[len(es)-1].child
			continue
		}
		n := int(le.Uint16(p[10:]))
		at := pageHeaderSize + (n-1)*pageElementSize
		return int64(id)*4096 + int64(at) + int64(le.Uint32(p[at+4:]))
	}
}

func fileSize(t *testing.T, path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// childOf is the child page of element i of branch page id of data.
func childOf(data []byte, id uint64, i int) uint64 {
	at := int(id)*4096 + 16 + i*pageElementSize + 8
	return binary.LittleEndian.Uint64(data[at:])
}
