package mqtt

// The uplink asks the broker, with the MQTT v5 Maximum Packet Size of its
// CONNECT, never to send it a packet larger than a command may be: the
// broker then discards a larger message for this client (MQTT v5
// §3.1.2.11.4) instead of sending it, and the agent never reads it.
//
// The limit counts the whole PUBLISH that carries a command, not the
// command alone, so that a command of exactly MaxCommandBytes on the
// commands topic arrives with any properties a sender may give it (MQTT v5
// §3.3), at their largest:
//
//	fixed header                         1 + 4   the type and flags; the Remaining Length, at most 4 bytes
//	topic name                           2 + len(topic)
//	packet identifier                    2
//	property length                      4       at most 4 bytes
//	Response Topic, Correlation Data,    3 × (1 + 2 + 65,535)
//	  Content Type                               an identifier, a length and at most 65,535 bytes each
//	Payload Format Indicator             1 + 1
//	Message Expiry Interval              1 + 4
//	user properties                      65,536  a budget: a sender may give any number of them
//	payload                              MaxCommandBytes
//
// The broker adds no Topic Alias (the uplink allows none) and no
// Subscription Identifier (it subscribes with none). For the default
// 64 KiB and a device id of 7 characters the limit is 327,737 bytes: a
// 10 MB command is never sent.
const (
	fixedHeaderMax    = 1 + 4
	packetIDSize      = 2
	propertyLengthMax = 4
	// stringPropertyMax is a Response Topic, a Correlation Data or a
	// Content Type at its largest.
	stringPropertyMax = 1 + 2 + 65535
	// fixedProperties are the Payload Format Indicator and the Message
	// Expiry Interval.
	fixedProperties = (1 + 1) + (1 + 4)
	// userPropertiesBudget is the room left for user properties.
	userPropertiesBudget = 64 << 10
)

// packetHeadroom is what a PUBLISH on topic needs besides its payload,
// properties at their largest and the user properties' budget included.
func packetHeadroom(topic string) int {
	return fixedHeaderMax + 2 + len(topic) + packetIDSize + propertyLengthMax +
		3*stringPropertyMax + fixedProperties + userPropertiesBudget
}

// maxPacketSize is the Maximum Packet Size the uplink asks for: the
// largest PUBLISH of a command of maxCommand bytes on topic.
func maxPacketSize(maxCommand int, topic string) uint32 {
	return uint32(maxCommand + packetHeadroom(topic))
}
