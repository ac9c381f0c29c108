package mqtt

import (
	"strings"
	"testing"

	"github.com/iot-hub/agent/agent/outbox"
)

// A record that cannot be an MQTT packet is quarantined rather than
// written. The PUBLISH of topic "t" with no properties takes 6 bytes
// besides its payload (topic 2+1, packet identifier 2, property length
// 1); topics and header keys and values are MQTT strings, of at most
// 65,535 bytes.
func TestUnsendableAtTheMQTTLimits(t *testing.T) {
	payload := make([]byte, maxRemainingLength-5) // untouched: the pages are never written
	long := strings.Repeat("k", maxString+1)
	for _, tc := range []struct {
		name string
		pub  publishPacket
		want string
	}{
		{"1 MiB", publishPacket{topic: "t", payload: payload[:1<<20]}, ""},
		{"largest packet", publishPacket{topic: "t", payload: payload[:maxRemainingLength-6]}, ""},
		{"a byte more", publishPacket{topic: "t", payload: payload[:maxRemainingLength-5]}, "larger than an MQTT packet"},
		{"longest topic", publishPacket{topic: long[1:]}, ""},
		{"topic too long", publishPacket{topic: long}, "topic is longer"},
		{"header key too long", publishPacket{topic: "t", headers: []outbox.Header{{Key: long, Value: []byte("v")}}}, "header \"kkk"},
		{"header value too long", publishPacket{topic: "t", headers: []outbox.Header{{Key: "k", Value: []byte(long)}}}, "header \"k\" is longer"},
	} {
		got := tc.pub.unsendable()
		if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
			t.Errorf("%s: unsendable() = %q; want %q", tc.name, got, tc.want)
		}
	}
}
