package mqtt

import (
	"encoding/binary"
	"io"
	"sync"
	"time"

	"github.com/iot-hub/agent/agent/outbox"
)

// publishPacket is the QoS 1 PUBLISH of an outbox entry (MQTT v5 §3.3),
// encoded by the uplink straight into the connection's buffer: its topic,
// payload and headers are the entry's, not copied. paho's Publish took a
// Properties, a slice of user properties and a string for each header,
// then as many buffers again to encode them: a third of the publisher's
// CPU.
//
// Headers become user properties, but for the ones that name MQTT
// properties (HeaderCorrelationData, HeaderContentType); Expiry becomes
// the Message Expiry Interval.
type publishPacket struct {
	id      uint16
	dup     bool
	retain  bool
	topic   string
	payload []byte
	headers []outbox.Header
	expiry  uint32 // seconds; 0 for none
}

// MQTT v5 property identifiers (§2.2.2.2).
const (
	propMessageExpiry   = 0x02
	propContentType     = 0x03
	propCorrelationData = 0x09
	propUser            = 0x26
)

// packet makes the PUBLISH of an entry.
func (u *Uplink) packet(e outbox.Entry) *publishPacket {
	p := &publishPacket{topic: e.Topic, payload: e.Payload, retain: e.Retain, headers: e.Headers}
	if !e.Expiry.IsZero() {
		p.expiry = uint32(max(time.Until(e.Expiry)/time.Second, 1))
	}
	return p
}

// SetIdentifier sets the packet identifier, as the session gives it.
func (p *publishPacket) SetIdentifier(id uint16) { p.id = id }

// propertiesLength is the length of the packet's properties.
func (p *publishPacket) propertiesLength() int {
	n := 0
	if p.expiry != 0 {
		n += 1 + 4
	}
	for _, h := range p.headers {
		switch h.Key {
		case HeaderCorrelationData, HeaderContentType:
			n += 1 + 2 + len(h.Value)
		default:
			n += 1 + 2 + len(h.Key) + 2 + len(h.Value)
		}
	}
	return n
}

// remainingLength is the Remaining Length of the packet, given the
// length of its properties.
func (p *publishPacket) remainingLength(props int) int {
	return 2 + len(p.topic) + 2 + varintSize(props) + props + len(p.payload)
}

// tooLarge reports whether the packet is larger than an MQTT packet can
// be: the outbox takes records of any size.
func (p *publishPacket) tooLarge() bool {
	return p.remainingLength(p.propertiesLength()) > maxRemainingLength
}

// appendTo appends the encoded packet to b.
func (p *publishPacket) appendTo(b []byte) []byte {
	props := p.propertiesLength()
	first := byte(0x30 | 1<<1) // PUBLISH, QoS 1
	if p.dup {
		first |= 1 << 3
	}
	if p.retain {
		first |= 1
	}
	b = append(b, first)
	b = appendVarint(b, p.remainingLength(props))
	b = appendString(b, p.topic)
	b = binary.BigEndian.AppendUint16(b, p.id)
	b = appendVarint(b, props)
	if p.expiry != 0 {
		b = append(b, propMessageExpiry)
		b = binary.BigEndian.AppendUint32(b, p.expiry)
	}
	for _, h := range p.headers {
		switch h.Key {
		case HeaderCorrelationData:
			b = appendBytes(append(b, propCorrelationData), h.Value)
		case HeaderContentType:
			b = appendBytes(append(b, propContentType), h.Value)
		default:
			b = appendBytes(appendString(append(b, propUser), h.Key), h.Value)
		}
	}
	return append(b, p.payload...)
}

// WriteTo writes the packet, marked DUP: the session writes a PUBLISH
// again, after a reconnect, with WriteTo. A writer that is a sync.Locker
// (batchConn) is locked for the write, as paho locks it for its packets.
func (p *publishPacket) WriteTo(w io.Writer) (int64, error) {
	p.dup = true
	if l, ok := w.(sync.Locker); ok {
		l.Lock()
		defer l.Unlock()
	}
	n, err := w.Write(p.appendTo(nil))
	return int64(n), err
}

// appendString appends an MQTT UTF-8 string: its length on 2 bytes, then
// its bytes. Header keys and topics come from the outbox, which bounds
// them; a longer one would make a malformed packet the broker refuses.
func appendString(b []byte, s string) []byte {
	return append(binary.BigEndian.AppendUint16(b, uint16(len(s))), s...)
}

// appendBytes appends MQTT binary data: its length on 2 bytes, then the
// bytes.
func appendBytes(b, v []byte) []byte {
	return append(binary.BigEndian.AppendUint16(b, uint16(len(v))), v...)
}
