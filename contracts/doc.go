// Package contracts is the wire format the agent and the iot-hub backend
// share: the v1 JSON envelope, every event type of the catalogue, their
// Kafka and MQTT topics, and the strict decoder every input goes through.
// It does no I/O and depends on nothing else of the agent.
//
// There are only a few concepts.
//
// An [Envelope] is the header every message carries: eventType,
// correlationId (a UUID), timestamp (RFC 3339, UTC, milliseconds), source
// {type, id} and __version ("v1"). Its [EventType] names the message type
// and, by its name, its [Kind]:
//
//   - commands, "*.command.*", ask for an action; their header is a
//     [Command], which may carry expiresAt;
//   - responses, "*.response.*", answer a command with its correlationId;
//     their header is a [Response], with status success or error and, on
//     error, error {code, message};
//   - events, anything else, state a fact; their header is an [Event].
//
// A [Message] is one of the catalogue's types, such as [*DeviceTelemetry]:
// a header and a typed Payload. Build messages with the New* constructors,
// which fill correlationId, timestamp, source and __version from an
// [Origin], so none can be forgotten; a response built from its command
// copies the command's correlationId.
//
// [Decode] is the one way in: it picks the type by eventType and checks
// everything (required fields, JSON kinds, enums, UUID and date-time
// formats, the version). [Encode] is the one way out: it checks the same
// and writes the canonical form. Both are safe for concurrent use.
//
// # Caveats
//
//   - A missing __version reads as v1; any other version is refused with
//     [ErrUnsupportedVersion]: the sender must be told, and the input goes
//     to the dead-letter path.
//   - Unknown members are ignored, for forward compatibility; they are not
//     kept, so re-encoding a decoded message drops them.
//   - Member names match exactly (no case folding) and a duplicate name is
//     malformed input: two parties must never read one message two ways.
//   - Times are read as any RFC 3339 date-time and written in UTC with
//     milliseconds; sub-millisecond digits are dropped on encoding.
//   - Every error names a field path and a reason ("payload.deviceId:
//     required") and carries the header as far as it was read, so a bad
//     command can still get an error response.
//
// The JSON Schema of every type, generated from these Go types, is in
// schema/; golden messages are in testdata/.
package contracts
