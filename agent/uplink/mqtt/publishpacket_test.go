package mqtt

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"

	"github.com/iot-hub/agent/agent/outbox"
)

// TestPublishPacketReadsBackWithPaho encodes PUBLISHes of entries with
// every kind of header, and paho's decoder, as a broker's would, reads
// back the topic, flags, packet identifier, payload and properties.
func TestPublishPacketReadsBackWithPaho(t *testing.T) {
	u := &Uplink{}
	for _, tc := range []struct {
		name  string
		entry outbox.Entry
		dup   bool
	}{
		{"bare", outbox.Entry{Record: outbox.Record{Topic: "iot/v1/devices/gw-1/telemetry", Payload: []byte(`{"a":1}`)}}, false},
		{"empty payload, retained", outbox.Entry{Record: outbox.Record{Topic: "s", Retain: true}}, false},
		{"headers", outbox.Entry{Record: outbox.Record{Topic: "t", Payload: bytes.Repeat([]byte("x"), 300), Headers: []outbox.Header{
			{Key: "eventType", Value: []byte("device.telemetry")},
			{Key: "correlationId", Value: []byte("c-1")},
			{Key: HeaderCorrelationData, Value: []byte{0, 1, 2}},
			{Key: HeaderContentType, Value: []byte("application/json")},
			{Key: "empty", Value: nil},
		}}}, true},
		{"expiry", outbox.Entry{Record: outbox.Record{Topic: "t", Payload: []byte("p"), Expiry: time.Now().Add(90 * time.Second)}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := u.packet(tc.entry)
			p.SetIdentifier(513)
			var b []byte
			if tc.dup {
				var w bytes.Buffer
				if _, err := p.WriteTo(&w); err != nil {
					t.Fatal(err)
				}
				b = w.Bytes()
			} else {
				b = p.appendTo(nil)
			}
			cp, err := packets.ReadPacket(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("paho cannot read % x: %v", b[:min(len(b), 32)], err)
			}
			got := cp.Content.(*packets.Publish)
			if got.Topic != tc.entry.Topic || got.QoS != 1 || got.PacketID != 513 || got.Retain != tc.entry.Retain ||
				got.Duplicate != tc.dup || !bytes.Equal(got.Payload, tc.entry.Payload) {
				t.Errorf("read back %+v; want the entry's topic, QoS 1, id 513, retain %v, dup %v and payload", got, tc.entry.Retain, tc.dup)
			}
			var users []outbox.Header
			for _, h := range tc.entry.Headers {
				switch h.Key {
				case HeaderCorrelationData:
					if !bytes.Equal(got.Properties.CorrelationData, h.Value) {
						t.Errorf("correlation data %x; want %x", got.Properties.CorrelationData, h.Value)
					}
				case HeaderContentType:
					if got.Properties.ContentType != string(h.Value) {
						t.Errorf("content type %q; want %q", got.Properties.ContentType, h.Value)
					}
				default:
					users = append(users, h)
				}
			}
			if !slices.EqualFunc(got.Properties.User, users, func(u packets.User, h outbox.Header) bool {
				return u.Key == h.Key && u.Value == string(h.Value)
			}) {
				t.Errorf("user properties %v; want %v", got.Properties.User, users)
			}
			switch e := got.Properties.MessageExpiry; {
			case tc.entry.Expiry.IsZero() && e != nil:
				t.Errorf("message expiry %d; want none", *e)
			case !tc.entry.Expiry.IsZero() && (e == nil || *e < 88 || *e > 90):
				t.Errorf("message expiry %v; want about 90 s", e)
			}
		})
	}
}

// BenchmarkPublishPacket encodes a telemetry PUBLISH into a reused
// buffer, against paho's Publish built and written as the uplink did
// before.
func BenchmarkPublishPacket(b *testing.B) {
	e := outbox.Entry{Record: outbox.Record{Topic: "iot/v1/devices/gw-bench/telemetry", Payload: bytes.Repeat([]byte("x"), 330), Headers: []outbox.Header{
		{Key: "eventType", Value: []byte("device.telemetry")},
		{Key: "correlationId", Value: []byte("0b7f9a52-6c1e-4a7d-9a53-2f0c8e1d3b44")},
		{Key: "__version", Value: []byte("1")},
	}}}
	u := &Uplink{}
	b.Run("telemetry/publishPacket", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			p := u.packet(e)
			p.SetIdentifier(1)
			buf = p.appendTo(buf[:0])
		}
	})
	b.Run("telemetry/baseline-paho.Publish", func(b *testing.B) {
		b.ReportAllocs()
		var w bytes.Buffer
		for b.Loop() {
			p := &packets.Publish{QoS: 1, PacketID: 1, Topic: e.Topic, Payload: e.Payload, Properties: &packets.Properties{}}
			for _, h := range e.Headers {
				p.Properties.User = append(p.Properties.User, packets.User{Key: h.Key, Value: string(h.Value)})
			}
			w.Reset()
			if _, err := p.WriteTo(&w); err != nil {
				b.Fatal(err)
			}
		}
	})
}
