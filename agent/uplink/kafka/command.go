package kafka

import (
	"context"

	"github.com/iot-hub/agent/agent/uplink"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Command is one record for this device (its payload's deviceId, or its
// key when the payload has none), as the broker delivered it: of the
// commands topic, or a certificate.issued of the certificates topic. It
// is the command as the dispatcher takes it (uplink.Command: its Topic is
// the topic's configured name, its Catalogue the contracts' name, and
// answers and dead letters go to the contracts' topics, which the uplink
// maps to the configured ones), and where the record was. Decoding it is
// the handler's work.
//
// Its Ack tells the uplink the command is handled for good: its answer,
// or its dead letter, is in the outbox. Only then may the offset after it
// be stored, so that the agent, when it restarts, reads again every
// command not acknowledged. Later calls do nothing, as do calls after Run
// has returned.
type Command struct {
	uplink.Command
	// Key is the record's key: the device id, or none or another when the
	// producer keyed the record otherwise.
	Key []byte
	// Headers are the record's headers (eventType, correlationId,
	// __version when the producer set them).
	Headers []kgo.RecordHeader
	// Partition and Offset locate the record.
	Partition int32
	Offset    int64
}

// Header returns the value of the command's header key, and whether it
// has one.
func (c Command) Header(key string) ([]byte, bool) { return headerValue(c.Headers, key) }

// Handler takes a received command. It is called on the uplink's receive
// path, one command after the other, and must return quickly: it should
// hand the work to its own goroutines. It must see to it that Command.Ack
// is called, also for input it refuses: the stored offset does not pass a
// command not acknowledged, and once 256 commands wait for their Ack the
// uplink reads no more.
type Handler func(ctx context.Context, c Command)
