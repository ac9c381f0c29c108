package mqtt

import (
	"testing"

	"github.com/eclipse/paho.golang/packets"
)

// A record larger than an MQTT packet can be is quarantined rather than
// written: paho's encoder panics on a Remaining Length beyond 4 bytes.
// The PUBLISH of topic "t" with no properties takes 6 bytes besides its
// payload (topic 2+1, packet identifier 2, property length 1).
func TestTooLargeAtTheMQTTLimit(t *testing.T) {
	payload := make([]byte, maxRemainingLength-5) // untouched: the pages are never written
	for _, tc := range []struct {
		payload int
		want    bool
	}{
		{1 << 20, false},
		{maxRemainingLength - 6, false},
		{maxRemainingLength - 5, true},
	} {
		pub := &packets.Publish{QoS: 1, Topic: "t", Payload: payload[:tc.payload], Properties: &packets.Properties{}}
		if got := tooLarge(pub); got != tc.want {
			t.Errorf("tooLarge with a %d-byte payload = %v; want %v", tc.payload, got, tc.want)
		}
	}
}
