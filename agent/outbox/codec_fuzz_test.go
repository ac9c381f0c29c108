package outbox

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"reflect"
	"testing"
)

// FuzzDecodeRecord checks that decodeRecord never panics, refuses a record
// whose checksum is wrong, and that what it accepts encodes back into a
// record that decodes the same, none of it aliasing the bytes it was read
// from (bbolt's memory map, which goes with the transaction). With fixCRC
// the last four bytes are made the checksum first, so that the fuzzer gets
// past it. The seed corpus is in testdata/fuzz/FuzzDecodeRecord.
func FuzzDecodeRecord(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte, fixCRC bool) {
		if fixCRC && len(b) >= 4 {
			binary.BigEndian.PutUint32(b[len(b)-4:], crc32.Checksum(b[:len(b)-4], castagnoli))
		}
		crcValid := len(b) >= 5 && crc32.Checksum(b[:len(b)-4], castagnoli) == binary.BigEndian.Uint32(b[len(b)-4:])
		keys := []string{}
		var e Entry
		topic, err := decodeRecord(b, &arena{keys: &keys}, &e)
		if err != nil {
			if !errors.Is(err, errCorrupt) || !reflect.DeepEqual(e, Entry{}) {
				t.Fatalf("decodeRecord(% X) = %v, %+v; want errCorrupt and no entry", b, err, e)
			}
			return
		}
		if !crcValid {
			t.Fatalf("decodeRecord(% X) accepted a record whose checksum is wrong", b)
		}
		want := cloneEntry(e)
		for i := range b {
			b[i] ^= 0xFF // the decoded record must not see this
		}
		if !sameRecord(e, want) {
			t.Fatalf("decodeRecord(% X) aliases its input", b)
		}
		again := encodeRecord(nil, &e.Record, topic, e.AppendedAt)
		var e2 Entry
		topic2, err := decodeRecord(again, nil, &e2)
		if err != nil || topic2 != topic || !sameRecord(e, e2) {
			t.Fatalf("record % X decodes to %+v (topic %d), which encodes to % X, which decodes to %+v (topic %d), %v",
				b, e, topic, again, e2, topic2, err)
		}
	})
}

// cloneEntry copies e's bytes too.
func cloneEntry(e Entry) Entry {
	e.Key, e.Payload = bytes.Clone(e.Key), bytes.Clone(e.Payload)
	hs := make([]Header, len(e.Headers))
	for i, h := range e.Headers {
		hs[i] = Header{Key: h.Key, Value: bytes.Clone(h.Value)}
	}
	e.Headers = hs
	return e
}

// sameRecord compares decoded entries as the encoding keeps them: empty
// and nil byte slices alike, times to the millisecond.
func sameRecord(a, b Entry) bool {
	if !a.AppendedAt.Equal(b.AppendedAt) || !a.Expiry.Equal(b.Expiry) || a.Retain != b.Retain ||
		!bytes.Equal(a.Key, b.Key) || !bytes.Equal(a.Payload, b.Payload) || len(a.Headers) != len(b.Headers) {
		return false
	}
	for i := range a.Headers {
		if a.Headers[i].Key != b.Headers[i].Key || !bytes.Equal(a.Headers[i].Value, b.Headers[i].Value) {
			return false
		}
	}
	return true
}
