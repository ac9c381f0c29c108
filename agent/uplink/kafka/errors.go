package kafka

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
)

// ErrInvalidConfig is what Validate returns, wrapped with the field.
var ErrInvalidConfig = errors.New("invalid kafka uplink config")

// refusesRecord reports whether a produce error refuses the record
// itself, so that retrying it cannot help: too large for the broker or
// the topic (MESSAGE_TOO_LARGE, RECORD_LIST_TOO_LARGE), or refused by
// the broker's validation (INVALID_RECORD; CORRUPT_MESSAGE, which older
// brokers return for a record a compacted topic cannot take).
//
// Every other error is retried, the record released to the outbox:
// franz-go retries retriable errors itself and forever (no retry limit
// or delivery timeout is set), so what reaches the uplink is either one
// of these, or a refusal that concerns the topic or the client rather
// than the record (authorization, a clock out of the broker's timestamp
// range, an unknown topic, the client closing). Those end when the
// configuration or the clock is fixed; quarantining the records instead
// would set aside everything the gateway sends meanwhile.
//
// franz-go fails every record buffered for a partition with the error of
// the first batch that failed, so a refusal of the record itself is only
// believed of a record produced alone (see producer.go).
func refusesRecord(err error) bool {
	return errors.Is(err, kerr.MessageTooLarge) ||
		errors.Is(err, kerr.RecordListTooLarge) ||
		errors.Is(err, kerr.InvalidRecord) ||
		errors.Is(err, kerr.CorruptMessage)
}
