package mqtt

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"runtime/metrics"
	"slices"
	"strings"
	"testing"

	"github.com/eclipse/paho.golang/packets"
)

// TestPacketLimitCutsPublishesTooLarge reads, through a packetLimit, the
// packets a broker that ignores the Maximum Packet Size may send: those
// within the limit come whole, a PUBLISH beyond it comes cut short with
// its payload's size told, and reading a 10 MB one allocates a small
// part of it.
func TestPacketLimitCutsPublishesTooLarge(t *testing.T) {
	const max, keep, huge = 300 << 10, 64<<10 + 1, 10 << 20
	small := &packets.Publish{QoS: 1, PacketID: 1, Topic: "t", Payload: []byte("small"), Properties: &packets.Properties{}}
	big := &packets.Publish{QoS: 1, PacketID: 2, Topic: "t", Payload: bytes.Repeat([]byte("b"), huge),
		Properties: &packets.Properties{ResponseTopic: "replies", CorrelationData: []byte("cd")}}
	// Its properties alone are beyond the limit: they are dropped.
	bigProps := &packets.Publish{QoS: 0, Topic: "t", Payload: bytes.Repeat([]byte("p"), huge),
		Properties: &packets.Properties{User: slices.Repeat([]packets.User{{Key: "k", Value: strings.Repeat("u", 65535)}}, 5)}}
	puback := &packets.Puback{PacketID: 9, Properties: &packets.Properties{}}
	var stream bytes.Buffer
	for _, p := range []io.WriterTo{small, big, puback, bigProps, small} {
		if _, err := p.WriteTo(&stream); err != nil {
			t.Fatal(err)
		}
	}

	cuts := map[uint16]int{}
	l := &packetLimit{max: max, keep: keep, onCut: func(id uint16, size int) { cuts[id] = size },
		r: bufio.NewReaderSize(bytes.NewReader(stream.Bytes()), readBuffer)}
	before := heapAllocs()
	var got []*packets.ControlPacket
	for range 5 {
		cp, err := packets.ReadPacket(l)
		if err != nil {
			t.Fatalf("packet %d: %v", len(got), err)
		}
		got = append(got, cp)
	}
	allocated := heapAllocs() - before
	if _, err := packets.ReadPacket(l); err != io.EOF {
		t.Errorf("after the last packet: %v; want io.EOF", err)
	}

	for _, i := range []int{0, 4} {
		if p, ok := got[i].Content.(*packets.Publish); !ok || p.PacketID != 1 || string(p.Payload) != "small" {
			t.Errorf("packet %d = %+v; want the small PUBLISH as it was", i, got[i].Content)
		}
	}
	if p, ok := got[2].Content.(*packets.Puback); !ok || p.PacketID != 9 {
		t.Errorf("packet 2 = %+v; want the PUBACK as it was", got[2].Content)
	}
	p, ok := got[1].Content.(*packets.Publish)
	if !ok || p.PacketID != 2 || p.QoS != 1 || p.Topic != "t" || !bytes.Equal(p.Payload, big.Payload[:keep]) ||
		p.Properties.ResponseTopic != "replies" || string(p.Properties.CorrelationData) != "cd" {
		t.Errorf("packet 1 = %v; want the large PUBLISH, its properties and its first %d bytes", got[1].Content, keep)
	}
	p, ok = got[3].Content.(*packets.Publish)
	if !ok || p.QoS != 0 || p.Topic != "t" || len(p.Properties.User) != 0 || !bytes.Equal(p.Payload, bigProps.Payload[:keep]) {
		t.Errorf("packet 3 = %v; want the large PUBLISH without its properties, and its first %d bytes", got[3].Content, keep)
	}
	if len(cuts) != 2 || cuts[2] != huge || cuts[0] != huge {
		t.Errorf("cuts told: %v; want packets 2 and 0 cut from %d bytes", cuts, huge)
	}
	t.Logf("reading two PUBLISHes of %d bytes and three small packets allocated %d bytes", huge, allocated)
	if allocated > 2<<20 {
		t.Errorf("reading allocated %d bytes; want under 2 MiB", allocated)
	}
}

// TestPacketLimitAtTheLimit reads PUBLISHes around the limit: one of
// exactly max bytes comes whole; one of max+1 comes whole too while its
// payload is within keep, and is cut, its size told, once it is not.
func TestPacketLimitAtTheLimit(t *testing.T) {
	// On topic "t" at QoS 1 without properties, a payload of n bytes makes
	// a packet of n+9: 1 type byte, 2 of Remaining Length, 2+1 of topic,
	// 2 of packet identifier, 1 of property length.
	const max, header = 1000, 9
	for _, tc := range []struct {
		name             string
		payload, keep    int
		wantLen, wantCut int
	}{
		{"exactly max", max - header, 100, max - header, 0},
		{"max+1, payload within keep", max + 1 - header, max, max + 1 - header, 0},
		{"max+1, payload beyond keep", max + 1 - header, 100, 100, max + 1 - header},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stream bytes.Buffer
			p := &packets.Publish{QoS: 1, PacketID: 7, Topic: "t", Payload: bytes.Repeat([]byte("x"), tc.payload), Properties: &packets.Properties{}}
			if n, err := p.WriteTo(&stream); err != nil || n != int64(tc.payload+header) {
				t.Fatalf("WriteTo = %d, %v; want %d bytes", n, err, tc.payload+header)
			}
			cut := 0
			l := &packetLimit{max: max, keep: tc.keep, onCut: func(_ uint16, size int) { cut = size }, r: bufio.NewReader(&stream)}
			cp, err := packets.ReadPacket(l)
			if err != nil {
				t.Fatal(err)
			}
			if got := cp.Content.(*packets.Publish); got.PacketID != 7 || len(got.Payload) != tc.wantLen || cut != tc.wantCut {
				t.Errorf("a PUBLISH of %d bytes read as one of payload %d, cut told %d; want %d and %d",
					tc.payload+header, len(got.Payload), cut, tc.wantLen, tc.wantCut)
			}
		})
	}
}

// TestPacketLimitRefusesMalformedLengths checks that a PUBLISH whose
// lengths do not add up is an error, not a cut.
func TestPacketLimitRefusesMalformedLengths(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stream []byte
	}{
		// A Remaining Length of 5 bytes.
		{"length too long", []byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x01}},
		// 200 bytes, of which a topic of 300 and no properties.
		{"topic beyond the packet", append(append([]byte{0x30, 0xc8, 0x01, 0x01, 0x2c}, bytes.Repeat([]byte("t"), 300)...), 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := &packetLimit{max: 100, keep: 10, onCut: func(uint16, int) {}, r: bufio.NewReader(bytes.NewReader(tc.stream))}
			if _, err := packets.ReadPacket(l); err == nil {
				t.Errorf("ReadPacket(% x) = nil error; want one", tc.stream[:min(len(tc.stream), 8)])
			}
		})
	}
}

// TestPacketLimitTakesPubacks reads PUBACKs for the session: those
// without properties, in their three lengths, are handed over in order
// before paho reads the packet after them; one with properties, and the
// other packets, go to paho as they came.
func TestPacketLimitTakesPubacks(t *testing.T) {
	var stream bytes.Buffer
	for _, p := range []io.WriterTo{
		&packets.Puback{PacketID: 1, Properties: &packets.Properties{}}, // Remaining Length 2
		&packets.Puback{PacketID: 2, ReasonCode: 0x10},                  // 3: a reason code
		&packets.Puback{PacketID: 3, ReasonCode: 0x97, Properties: &packets.Properties{ReasonString: "quota"}},
		&packets.Suback{PacketID: 4, Reasons: []byte{1}, Properties: &packets.Properties{}},
		&packets.Puback{PacketID: 5, Properties: &packets.Properties{}},
	} {
		if _, err := p.WriteTo(&stream); err != nil {
			t.Fatal(err)
		}
	}
	stream.Write([]byte{packets.PUBACK << 4, 4, 0, 6, 0x80, 0}) // 4: reason code and an empty property length

	var taken [][]pubAck
	l := &packetLimit{max: 1 << 20, keep: 10, onCut: func(uint16, int) {},
		onPubacks: func(acks []pubAck) { taken = append(taken, slices.Clone(acks)) },
		r:         bufio.NewReader(bytes.NewReader(stream.Bytes()))}
	var read []string
	for {
		cp, err := packets.ReadPacket(l)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		read = append(read, fmt.Sprintf("%s %d (after %d batches)", cp.PacketType(), cp.PacketID(), len(taken)))
	}
	wantRead := []string{"PUBACK 3 (after 1 batches)", "SUBACK 4 (after 1 batches)"}
	if !slices.Equal(read, wantRead) {
		t.Errorf("paho read %q; want %q", read, wantRead)
	}
	wantTaken := [][]pubAck{{{id: 1}, {id: 2, reason: 0x10}}, {{id: 5}, {id: 6, reason: 0x80}}}
	if fmt.Sprint(taken) != fmt.Sprint(wantTaken) {
		t.Errorf("handed over %v; want %v", taken, wantTaken)
	}
}

// heapAllocs is the bytes allocated on the heap so far.
func heapAllocs() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
