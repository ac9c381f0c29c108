package mqtt

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"

	"github.com/eclipse/paho.golang/packets"
)

// packetLimit reads the broker's packets for paho and cuts short a
// PUBLISH larger than max, the Maximum Packet Size the uplink asked for,
// which a broker that ignores it may send anyway: paho reads a packet
// whole into memory, however large it says it is, and a command of 10 MB
// would cost the agent three times that before its handler refused it.
//
// A PUBLISH cut short keeps its flags, topic, packet identifier and, if
// they fit within max, its properties; its payload is cut to its first
// keep bytes and the rest is read and thrown away as it comes, a buffer at
// a time. onCut is told the packet identifier and the payload's size as
// sent before paho reads the packet. PUBACKs without properties go to
// onPubacks, not to paho (below). Other packets pass as they came.
//
// Only paho's reading goroutine calls Read.
type packetLimit struct {
	max, keep int
	onCut     func(id uint16, size int)
	onPubacks func([]pubAck) // takes the PUBACKs without properties; nil passes them to paho

	r    *bufio.Reader
	head []byte   // the header of a PUBLISH cut short, to hand out first
	pass int      // bytes of the current packet to hand out as they come
	skip int      // bytes to throw away after those
	acks []pubAck // PUBACKs read and not handed to onPubacks yet
}

// errMalformed is a packet whose lengths do not add up; paho drops the
// connection on it, as on any read error.
var errMalformed = errors.New("mqtt: malformed packet from the broker")

// Read hands out the packets, cut short where they must be.
func (l *packetLimit) Read(p []byte) (int, error) {
	for {
		switch {
		case len(l.head) > 0:
			n := copy(p, l.head)
			l.head = l.head[n:]
			return n, nil
		case l.pass > 0:
			n, err := l.r.Read(p[:min(len(p), l.pass)])
			l.pass -= n
			return n, err
		case l.skip > 0:
			n, err := l.r.Discard(l.skip)
			l.skip -= n
			if err != nil {
				return 0, err
			}
		default:
			if err := l.next(); err != nil {
				l.flushAcks()
				return 0, err
			}
		}
	}
}

// next looks at the fixed header of the next packet: the type, and the
// Remaining Length (1 to 4 bytes). It takes a PUBACK without properties
// for onPubacks, passes other packets within max whole, and cuts a
// PUBLISH beyond it.
func (l *packetLimit) next() error {
	var b []byte
	var remaining, n int
	for more := true; more; {
		n++
		if n > 4 {
			return errMalformed
		}
		var err error
		if b, err = l.peek(1 + n); err != nil {
			return err
		}
		remaining |= int(b[n]&0x7f) << (7 * (n - 1))
		more = b[n]&0x80 != 0
	}
	if b[0] == packets.PUBACK<<4 && l.onPubacks != nil && remaining >= 2 && remaining <= 4 {
		return l.puback(1+n, remaining)
	}
	l.flushAcks() // before paho reads anything that comes after them
	if b[0]>>4 != packets.PUBLISH || 1+n+remaining <= l.max {
		l.pass = 1 + n + remaining
		return nil
	}
	return l.cut(b[0], 1+n, remaining)
}

// PUBACKs are taken off the connection, leaving paho's reading
// goroutine, which reads each packet into a buffer it allocates (some
// 2 KB for 4 bytes), only the rest. Those read are handed over together
// before the reader waits for more bytes, and before any other packet
// goes to paho, so the session sees every packet in the order it came.

// maxAcks bounds the PUBACKs handed over at once.
const maxAcks = 256

// puback reads a PUBACK of Remaining Length remaining: its packet
// identifier and, when there, its reason code. One with properties (a
// reason string, user properties) passes to paho whole.
func (l *packetLimit) puback(fixedHeader, remaining int) error {
	b, err := l.peek(fixedHeader + remaining)
	if err != nil {
		return err
	}
	v := b[fixedHeader:]
	if remaining == 4 && v[3] != 0 {
		l.flushAcks()
		l.pass = fixedHeader + remaining
		return nil
	}
	a := pubAck{id: binary.BigEndian.Uint16(v)}
	if remaining > 2 {
		a.reason = v[2]
	}
	if _, err := l.r.Discard(fixedHeader + remaining); err != nil {
		return err
	}
	if l.acks = append(l.acks, a); len(l.acks) >= maxAcks {
		l.flushAcks()
	}
	return nil
}

// peek is bufio.Reader.Peek, which hands over the PUBACKs read first
// when it would wait for bytes to come.
func (l *packetLimit) peek(n int) ([]byte, error) {
	if l.r.Buffered() < n {
		l.flushAcks()
	}
	return l.r.Peek(n)
}

// flushAcks hands the PUBACKs read to onPubacks.
func (l *packetLimit) flushAcks() {
	if len(l.acks) > 0 {
		l.onPubacks(l.acks)
		l.acks = l.acks[:0]
	}
}

// cut reads the variable header of a PUBLISH too large (its topic is at
// most 65,535 bytes), makes the header of the packet cut short, and sets
// what of the rest to pass and to throw away.
func (l *packetLimit) cut(typeAndFlags byte, fixedHeader, remaining int) error {
	if _, err := l.r.Discard(fixedHeader); err != nil {
		return err
	}
	var size [2]byte
	if _, err := io.ReadFull(l.r, size[:]); err != nil {
		return err
	}
	topicEnd := 2 + int(binary.BigEndian.Uint16(size[:]))
	variable := make([]byte, topicEnd, topicEnd+2)
	copy(variable, size[:])
	var id uint16
	if qos := typeAndFlags >> 1 & 3; qos > 0 {
		variable = variable[:topicEnd+2]
	}
	if _, err := io.ReadFull(l.r, variable[2:]); err != nil {
		return err
	}
	if len(variable) > topicEnd {
		id = binary.BigEndian.Uint16(variable[topicEnd:])
	}
	props, propsHeader, err := readVarint(l.r)
	if err != nil {
		return err
	}
	payload := remaining - len(variable) - propsHeader - props
	if payload < 0 {
		return errMalformed
	}
	kept := min(payload, l.keep)
	if fixedHeaderMax+len(variable)+propertyLengthMax+props+kept > l.max {
		if _, err := l.r.Discard(props); err != nil {
			return err
		}
		props = 0
	}
	l.pass, l.skip = props+kept, payload-kept
	head := appendVarint([]byte{typeAndFlags}, len(variable)+varintSize(props)+props+kept)
	head = append(head, variable...)
	l.head = appendVarint(head, props)
	if kept < payload {
		l.onCut(id, payload)
	}
	return nil
}

// readVarint reads an MQTT Variable Byte Integer, and says how many bytes
// it took.
func readVarint(r io.ByteReader) (v, n int, err error) {
	for n < 4 {
		c, err := r.ReadByte()
		if err != nil {
			return 0, 0, err
		}
		v |= int(c&0x7f) << (7 * n)
		n++
		if c&0x80 == 0 {
			return v, n, nil
		}
	}
	return 0, 0, errMalformed
}

// appendVarint appends v as an MQTT Variable Byte Integer.
func appendVarint(b []byte, v int) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// varintSize is how many bytes appendVarint takes for v.
func varintSize(v int) int { return len(appendVarint(nil, v)) }
