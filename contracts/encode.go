package contracts

import (
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/iot-hub/agent/internal/jsonw"
)

// Encode checks m with [Validate] and writes it as JSON: header first,
// camelCase, optional fields omitted, every time as RFC 3339 in UTC with
// milliseconds ("2026-11-27T10:15:30.123Z"). It never writes a message
// that [Decode] would refuse.
func Encode(m Message) ([]byte, error) {
	if err := check(m); err != nil {
		return nil, err
	}
	return encode(m, true)
}

// EncodeUnchecked encodes m as Encode does, but without checking it: for
// a message its receiver checks, such as a command a local caller builds
// (the health listener's POST /v1/rpc), which the dispatcher decodes and
// refuses, if it must, as it refuses one from the backend.
func EncodeUnchecked(m Message) ([]byte, error) { return encode(m, false) }

// encode writes m; checked says that m passed check, its raw values
// valid JSON.
func encode(m Message, checked bool) ([]byte, error) {
	if a, ok := m.(appender); ok {
		w := jsonWriter{Writer: jsonw.Writer{B: make([]byte, 0, a.sizeHint())}, checked: checked}
		a.appendJSON(&w)
		if w.Err != nil {
			return nil, newError(ErrInvalidValue, "", w.Err.Error())
		}
		return w.B, nil
	}
	b, err := json.Marshal(m, encodeOptions)
	if err != nil {
		return nil, newError(ErrInvalidValue, "", err.Error())
	}
	return b, nil
}

// TimeLayout is how every time is written: RFC 3339, UTC, milliseconds.
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

var encodeOptions = json.WithMarshalers(json.MarshalToFunc(encodeTime))

func encodeTime(enc *jsontext.Encoder, t time.Time) error {
	var buf [len(TimeLayout) + 2]byte
	b := append(buf[:0], '"')
	b = t.UTC().AppendFormat(b, TimeLayout)
	b = append(b, '"')
	return enc.WriteValue(b)
}
