// Package mqtt is the agent's MQTT v5 uplink: it publishes what the outbox
// hands out and passes the commands it receives to a handler.
//
// An [Uplink] keeps one connection to the broker through paho.golang's
// autopaho, reconnecting forever with exponential backoff, full jitter
// (internal/backoff), and reports it as an uplink.State. Its
// session is persistent (Clean Start false, a Session Expiry Interval), so
// QoS 1 commands sent while the gateway was offline arrive when it is
// back. It subscribes to iot/v1/devices/{id}/commands, gives every
// CONNECT its own retained offline device.status.changed as Last Will,
// and queues a retained online one through the outbox's control lane on
// every connect; both carry the connection's number, by which a consumer
// orders them (package status, status.go).
//
// Publishing is QoS 1 with a window of in-flight messages: a record is
// acked in the outbox only after its PUBACK, released for a retry when the
// connection goes, and quarantined when the broker refuses it for good.
//
// The uplink writes its PUBLISHes itself, from one goroutine per
// connection, in outbox order (publisher.go): it stores each in its
// session (which gives the packet identifier and sends it again after a
// reconnect) and writes it onto the connection it dialed, as paho's
// PublishWithOptions with AsyncSend would. autopaho keeps the paho client
// to itself, and its publish queue serialized every PUBLISH and parsed it
// back: about half the CPU of a drain, a few KB of garbage per record.
// The session is the uplink's own too (session.go): paho's State spent a
// goroutine, a context and three map entries on every PUBLISH, and its
// reader some 2 KB on every PUBACK, which the connection now takes for
// the session itself (packetLimit). autopaho still connects, reconnects,
// keeps the connection alive, reads the rest, subscribes and publishes
// the stopped status; its queue stays empty.
//
// # Legacy protocol
//
// Settings.Protocol has the uplink speak the platform's formats from
// before v1 (package contracts/legacy) too, on the LegacyTopics
// (protocol.go). Records in the outbox stay v1: the uplink renders
// telemetry, the status and the answers to legacy commands in the legacy
// format as it takes them (ProtocolDual: in both, and the entry is acked
// once every publish of it is), and converts the commands on the legacy
// commands topic into v1 commands for the handler (legacy.go). The Last
// Will is the legacy one with ProtocolLegacy, the v1 one with
// ProtocolDual (MQTT allows one).
//
// [Settings], in [Config], are the keys of the agent's configuration
// file's uplink.mqtt section, with their defaults and checks.
//
// # Command size
//
// Its CONNECT asks for a Maximum Packet Size: the PUBLISH of a command of
// Config.MaxCommandBytes with its properties at their largest (see
// maxpacket.go), about 256 KiB more. The broker drops a larger command for this
// client instead of sending it (MQTT v5 §3.1.2.11.4; mosquitto logs
// "Dropping too large outgoing PUBLISH"): the agent never reads it, and
// its sender gets neither an answer nor a dead letter. A command larger
// than MaxCommandBytes within that margin arrives, for the handler to
// refuse. A broker that ignores the Maximum Packet Size may still send a
// larger one: the uplink then reads its first MaxCommandBytes+1 bytes,
// throws the rest away as it comes, and hands the handler that start,
// with Command.Size telling the size as sent (packetlimit.go).
//
// # Client certificates and rotation
//
// With TLS the client certificate comes from CertFile and KeyFile (read
// again, with the CA bundle, by [Uplink.ReloadTLS]) or, for rotation
// without a restart, from a [CertSource] (Config.Certificates), asked
// once per connection attempt; ReloadTLS then reads only the CA bundle.
// [Uplink.Reconnect] drops the connection (with a normal DISCONNECT: the
// session stays and no offline Will is published) and connects again at
// once, so the source's current certificate is presented; until the next
// successful connection attempts come at most 1 s apart. Config.OnConnect
// reports, for every connection the broker accepted (CONNACK), the
// certificate it presented. A refused certificate never reaches OnConnect:
// with TLS 1.3 the broker refuses it only after the handshake, which the
// uplink sees as a failed CONNECT, not as a failed dial.
//
// # Caveats
//
//   - Delivery is at-least-once: records in flight when the connection
//     drops are published again, so subscribers may see up to Window
//     duplicates per reconnect; they de-duplicate by correlationId.
//   - A refused connection attempt is noticed when the broker says so,
//     which mosquitto does at once (a TLS alert), or else after
//     ConnectTimeout. OnConnect may report a certificate for a connection
//     that a Reconnect call drops right after (the CONNACK came first):
//     whoever waits for a new certificate should wait for its serial.
//   - Stopping (Run's context ending) waits up to ConnectTimeout for the
//     publishes in flight, publishes the offline "stopped" and disconnects
//     normally; when the publishes in flight or that one do not end in
//     time, it disconnects with reason 0x04 so that the broker publishes
//     the Will ("connection lost") at once.
package mqtt
