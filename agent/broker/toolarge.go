package broker

import (
	"bytes"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// dropTooLarge completes at once, as MQTT v5 wants (MQTT-3.1.2-25), a
// QoS 1 or 2 message larger than the Maximum Packet Size of the client it
// is for: mochi v2.7.9 does not send it, but keeps it among the client's
// messages in flight, for good. There it holds the message's memory until
// the session expires, and when the client connects again and resumes
// its session, mochi sends it again, fails, and closes the connection:
// every time, so the client can no longer connect (the agent's uplink
// with a command larger than its limit pending).
type dropTooLarge struct {
	mochi.HookBase
}

// ID names the hook.
func (h *dropTooLarge) ID() string { return "drop-too-large" }

// Provides says the hook is told of every message put in flight.
func (h *dropTooLarge) Provides(b byte) bool { return b == mochi.OnQosPublish }

// OnQosPublish takes a PUBLISH too large for cl out of its messages in
// flight, where mochi has just put it, before it tries to send it. mochi
// still counts it against the client's Receive Maximum, if it set one
// (the agent's uplink does not): one message less may be in flight to it
// until it connects again.
func (h *dropTooLarge) OnQosPublish(cl *mochi.Client, pk packets.Packet, _ int64, _ int) {
	limit := cl.Properties.Props.MaximumPacketSize
	if limit != 0 && pk.FixedHeader.Type == packets.Publish && publishSize(cl, pk) > int(limit) {
		cl.State.Inflight.Delete(pk.PacketID)
	}
}

// publishSize is the size of pk as mochi v2.7.9 writes it to cl
// (Client.WritePacket, Packet.PublishEncode): the problem information,
// expiry interval and Maximum Packet Size as it sets them (it leaves out
// user properties that would take the packet beyond the client's limit),
// the payload counted, not copied.
func publishSize(cl *mochi.Client, pk packets.Packet) int {
	p := cl.Properties.Props
	mods := packets.Mods{
		MaxSize:             p.MaximumPacketSize,
		AllowResponseInfo:   true,
		DisallowProblemInfo: p.RequestProblemInfoFlag && p.RequestProblemInfo == 0,
	}
	props := pk.Properties
	if pk.Expiry > 0 {
		props.MessageExpiryInterval = 1 // 4 bytes, whatever is left
	}
	rest := 2 + len(pk.TopicName) + len(pk.Payload) // what PublishEncode counts besides the properties
	if pk.FixedHeader.Qos > 0 {
		rest += 2
	}
	var b bytes.Buffer
	props.Encode(packets.Publish, mods, &b, rest) // with its length
	remaining := rest + b.Len()
	lengthBytes := 1
	for n := remaining; n > 127; n >>= 7 {
		lengthBytes++
	}
	return 1 + lengthBytes + remaining
}
