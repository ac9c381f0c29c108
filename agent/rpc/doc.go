// Package rpc answers the commands the backend sends a device: it decodes
// each with contracts.Decode, runs the method it names within a deadline,
// and puts the answer (device.response.rpc) in the outbox's control lane.
//
// A [Dispatcher] takes an uplink.Command per message received on a commands
// topic. Whatever the input, it ends in exactly one of:
//
//   - an answer with status success and the method's result;
//   - an answer with status error and a stable code (contracts.Code*):
//     INVALID_COMMAND, UNSUPPORTED_VERSION, METHOD_NOT_FOUND, WRONG_DEVICE,
//     EXPIRED, TIMEOUT, BUSY or INTERNAL, plus a dead letter when the input
//     was bad (not for BUSY, TIMEOUT or INTERNAL: those are the device's);
//   - a dead letter (system.dlq) alone, for input that cannot be answered:
//     not JSON, no usable correlationId, larger than MaxCommandBytes.
//
// A commands topic carries messages that are not RPCs too: the
// certificate rotation's certificate.command.rotate and
// certificate.issued. Each goes to its [EventHandler] (Deps.Events),
// gets no answer, and is acknowledged once its handler returns; a
// handler's error dead-letters it, and a handler that runs out of time
// leaves it unacknowledged, for the broker to deliver again. A type with
// no handler is refused as a command this device does not run.
//
// On Kafka each type has its topic (contracts.EventType.Topic): the
// uplink says which one a command came on (uplink.Command.Catalogue), and a
// message on another topic than its type's is refused with a dead letter
// (reason invalid), an RPC answered INVALID_COMMAND too. MQTT carries
// every inbound type on the device's commands topic.
//
// An uplink may convert a command from an old format into a v1 one
// (legacy RPC commands over MQTT): the dispatcher runs it as any other.
// One the uplink could not convert comes with an uplink.Refusal: a dead
// letter holding it as received, and an error answer when it names a
// method.
//
// A command runs at most once per correlationId: its answer is kept in the
// outbox's file with the answer record itself (outbox.Store.AppendMemo),
// and a command delivered again, even after a restart, gets that answer
// again. The command is acknowledged to the broker (uplink.Command.Ack) only once
// its answer or dead letter is in the outbox, so a crash in between makes
// the broker deliver it again.
//
// Methods are registered in one place, methods.go, and read the agent's
// parts through [Deps]. [Dispatcher.Handle] runs each command on a
// goroutine of its own, at most Config.Concurrency methods at once;
// [Dispatcher.Close] waits for those taken. Deadlines and arrival times
// follow Config.Clock.
package rpc
