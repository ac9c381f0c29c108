// Package mqtt is the agent's MQTT v5 uplink: it publishes what the outbox
// hands out and passes the commands it receives to a handler.
//
// An [Uplink] keeps one connection to the broker through paho.golang's
// autopaho, reconnecting forever with jittered exponential backoff. Its
// session is persistent (Clean Start false, a Session Expiry Interval), so
// QoS 1 commands sent while the gateway was offline arrive when it is
// back. It subscribes to iot/v1/devices/{id}/commands, leaves a retained
// offline device.status.changed as its Last Will, and queues a retained
// online one through the outbox's control lane on every connect.
//
// Publishing is QoS 1 with a window of in-flight messages: a record is
// acked in the outbox only after its PUBACK, released for a retry when the
// connection goes, and quarantined when the broker refuses it for good.
//
// # Caveats
//
//   - Delivery is at-least-once: records in flight when the connection
//     drops are published again, so subscribers may see up to Window
//     duplicates per reconnect; they de-duplicate by correlationId.
//   - Stopping (Run's context ending) waits up to ConnectTimeout for the
//     publishes in flight, then disconnects with reason 0x04 so that the
//     broker publishes the offline status at once.
package mqtt
