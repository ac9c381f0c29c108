package outbox

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"slices"
	"time"
)

// A stored record is
//
//	format byte (2)
//	flags uvarint: bit 0 is Retain, bit 1 the Lane; the bits above are the Route
//	appendedAt uvarint, Unix milliseconds
//	expiry uvarint, Unix milliseconds, 0 for none
//	topic uvarint, an id of the topics bucket
//	key, payload: uvarint length, bytes
//	headers: uvarint count, then key and value each as uvarint length, bytes
//	CRC-32C (Castagnoli) of all of the above, 4 bytes big-endian
//
// The topic id refers to the topics bucket, whose names carry a CRC-32C
// of their own (encodeTopic).
//
// bbolt checksums only its meta pages; the CRC catches a record that rotted
// on the card, which is then quarantined instead of sent.
//
// A record of format 1, written before segments (and converted with them),
// has no Lane bit: its Route starts at bit 1. The lane of a record is its
// segment's; the salvage reads the bit to leave out a page of the other
// lane's records that falls in a lost range of this one's (copier.record).

// The record formats: formatNoLane, then recordFormat, which encodeRecord
// writes.
const (
	formatNoLane = 1
	recordFormat = 2
)

// Record flags: Retain, the Lane, then the Route above them (a record stored
// before routes has the zero Route).
const (
	flagRetain = 1 << 0
	laneShift  = 1
	routeShift = 2
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errCorrupt: a stored record fails its checksum or does not parse.
var errCorrupt = errors.New("stored record is corrupt")

// encodeRecord appends the stored form of r, appended at, with topic id
// topic, to dst.
func encodeRecord(dst []byte, r *Record, topic uint64, at time.Time) []byte {
	size := 1 + 3*binary.MaxVarintLen64 + 3*binary.MaxVarintLen32 + len(r.Key) + len(r.Payload) + 4
	for _, h := range r.Headers {
		size += 2*binary.MaxVarintLen32 + len(h.Key) + len(h.Value)
	}
	dst = slices.Grow(dst, size)
	start := len(dst)
	dst = append(dst, recordFormat)
	var flags uint64
	if r.Retain {
		flags |= flagRetain
	}
	flags |= uint64(r.Lane)<<laneShift | uint64(r.Route)<<routeShift
	dst = binary.AppendUvarint(dst, flags)
	dst = binary.AppendUvarint(dst, uint64(at.UnixMilli()))
	var exp uint64
	if !r.Expiry.IsZero() {
		exp = uint64(max(r.Expiry.UnixMilli(), 1))
	}
	dst = binary.AppendUvarint(dst, exp)
	dst = binary.AppendUvarint(dst, topic)
	dst = appendBytes(dst, r.Key)
	dst = appendBytes(dst, r.Payload)
	dst = binary.AppendUvarint(dst, uint64(len(r.Headers)))
	for _, h := range r.Headers {
		dst = appendBytes(dst, []byte(h.Key))
		dst = appendBytes(dst, h.Value)
	}
	return binary.BigEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli))
}

func appendBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

// decodeRecord parses a stored record into e, in memory of a (e does not
// alias b), and returns its topic id, which the caller resolves into
// e.Topic. e.ID and e.Lane are the caller's too.
func decodeRecord(b []byte, a *arena, e *Entry) (topic uint64, err error) {
	if len(b) < 5 {
		return 0, errCorrupt
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum || body[0] != recordFormat && body[0] != formatNoLane {
		return 0, errCorrupt
	}
	// One copy of the fields, out of bbolt's memory map, which the
	// record's slices then share.
	d := decoder{b: a.copy(body[1:])}
	flags := d.uvarint()
	e.Retain = flags&flagRetain != 0
	e.Route = Route(flags >> flagsRouteShift(body[0]))
	e.AppendedAt = time.UnixMilli(int64(d.uvarint()))
	if exp := d.uvarint(); exp != 0 {
		e.Expiry = time.UnixMilli(int64(exp))
	}
	topic = d.uvarint()
	e.Key = d.bytes()
	e.Payload = d.bytes()
	if n := d.uvarint(); n > 0 && n <= uint64(len(d.b)) {
		e.Headers = a.headers(int(n))
		for i := range e.Headers {
			e.Headers[i] = Header{Key: a.key(d.bytes()), Value: d.bytes()}
		}
	} else if n > 0 {
		d.err = true
	}
	if d.err || len(d.b) != 0 {
		*e = Entry{}
		return 0, errCorrupt
	}
	return topic, nil
}

// decoder reads the fields of a stored record; a short or malformed
// field sets err and yields zero values.
type decoder struct {
	b   []byte
	err bool
}

func (d *decoder) uvarint() uint64 {
	if len(d.b) > 0 && d.b[0] < 0x80 { // most fields: one byte
		v := d.b[0]
		d.b = d.b[1:]
		return uint64(v)
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err || n > uint64(len(d.b)) {
		d.err = true
		return nil
	}
	if n == 0 {
		return nil
	}
	out := d.b[:n:n] // full: an append to it copies, and leaves its neighbours be
	d.b = d.b[n:]
	return out
}

// A stored topic name is the name and its CRC-32C, 4 bytes big-endian:
// records name their topic by id, so a rotten name would send every one of
// them to a wrong topic.

func encodeTopic(name string) []byte {
	b := append([]byte(name), 0, 0, 0, 0)
	binary.BigEndian.PutUint32(b[len(name):], crc32.Checksum([]byte(name), castagnoli))
	return b
}

func decodeTopic(b []byte) (string, error) {
	if len(b) < 4 {
		return "", errCorrupt
	}
	name := b[:len(b)-4]
	if crc32.Checksum(name, castagnoli) != binary.BigEndian.Uint32(b[len(b)-4:]) {
		return "", errCorrupt
	}
	return string(name), nil
}

// flagsRouteShift is where the Route starts in the flags of a record of
// format f.
func flagsRouteShift(f byte) int {
	if f == formatNoLane {
		return laneShift
	}
	return routeShift
}

// storedFlags reads the format and the flags of a stored record without
// decoding the rest; ok is false when they do not parse.
func storedFlags(b []byte) (format byte, flags uint64, ok bool) {
	if len(b) < 2 {
		return 0, 0, false
	}
	flags, n := binary.Uvarint(b[1:])
	return b[0], flags, n > 0
}

// storedRoute reads the Route of a stored record without decoding the
// rest; a record that does not parse has the zero Route, and fails its
// checksum when handed out.
func storedRoute(b []byte) Route {
	format, flags, ok := storedFlags(b)
	if !ok {
		return 0
	}
	return Route(flags >> flagsRouteShift(format))
}

// storedLane reads the Lane a stored record was appended to; ok is false
// for a record of format 1, which does not say, and one that does not
// parse. Check the record's checksum first (decodeRecord).
func storedLane(b []byte) (l Lane, ok bool) {
	format, flags, ok := storedFlags(b)
	if !ok || format != recordFormat {
		return 0, false
	}
	return Lane(flags>>laneShift) & 1, true
}
