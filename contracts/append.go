package contracts

import (
	"bytes"
	"strconv"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/iot-hub/agent/internal/jsonnum"
)

// appender is a message that writes its own JSON: the agent's high-rate
// events, a read's telemetry and a local device's message, which a
// gateway encodes hundreds of times a second, and the answer to an RPC,
// whose encoding a caller waits for. It writes exactly
// what json.Marshal writes for it (FuzzAppendersWriteWhatMarshalWrites),
// without reflection: on a mostly idle gateway every encoding runs with
// cold caches, and the reflective path touched far more memory (6% of
// the agent's CPU in BenchmarkAgentMixedCPU).
type appender interface {
	appendJSON(w *jsonWriter)
	// sizeHint is about the bytes it writes, enough for most.
	sizeHint() int
}

// jsonWriter appends JSON to b, keeping the first error.
type jsonWriter struct {
	b   []byte
	err error
	// checked says that the message passed check: its raw values are
	// valid JSON.
	checked bool
}

// raw appends s as it is: punctuation and member names.
func (w *jsonWriter) raw(s string) { w.b = append(w.b, s...) }

// str appends s as a JSON string, failing on invalid UTF-8 as
// json.Marshal does.
func (w *jsonWriter) str(s string) {
	if w.err != nil {
		return
	}
	w.b, w.err = jsontext.AppendQuote(w.b, s)
}

// time appends t as encodeTime writes it.
func (w *jsonWriter) time(t time.Time) {
	w.b = append(w.b, '"')
	w.b = t.UTC().AppendFormat(w.b, TimeLayout)
	w.b = append(w.b, '"')
}

// int appends n.
func (w *jsonWriter) int(n int) { w.b = strconv.AppendInt(w.b, int64(n), 10) }

// float appends f as json.Marshal writes a float64 (jsonnum); NaN and
// infinities are errors.
func (w *jsonWriter) float(f float64) {
	var err error
	if w.b, err = jsonnum.AppendFloat(w.b, f); err != nil && w.err == nil {
		w.err = err
	}
}

// value appends v as json.Marshal writes a jsontext.Value: checked, and
// compact. A value already checked that has neither white space between
// its tokens nor an escape in its strings is that already, as a result
// json.Marshal wrote is: it goes as it is, without a second parse
// (AppendFormat rewrites some escapes, so those go through it).
func (w *jsonWriter) value(v jsontext.Value) {
	if w.err != nil {
		return
	}
	if w.checked && plainCompact(v) {
		w.b = append(w.b, v...)
		return
	}
	w.b, w.err = jsontext.AppendFormat(w.b, v)
}

// plainCompact reports whether the JSON text v is not empty, and has no
// white space outside its strings and no backslash anywhere. Without a
// backslash each string ends at the next quote: the strings are skipped
// by IndexByte, and only the bytes between them are looked at.
func plainCompact(v []byte) bool {
	if len(v) == 0 || bytes.IndexByte(v, '\\') >= 0 {
		return false // an empty value is not JSON: AppendFormat says why
	}
	for {
		q := bytes.IndexByte(v, '"')
		between := v
		if q >= 0 {
			between = v[:q]
		}
		for _, c := range between {
			if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
				return false
			}
		}
		if q < 0 {
			return true
		}
		end := bytes.IndexByte(v[q+1:], '"')
		if end < 0 {
			return false // not JSON
		}
		v = v[q+1+end+1:]
	}
}

// envelope appends the header members and the payload's name, opening
// the message's object.
func (w *jsonWriter) envelope(h *Envelope) {
	w.header(h)
	w.raw(`,"payload":`)
}

// header appends the header members, opening the message's object.
func (w *jsonWriter) header(h *Envelope) {
	w.raw(`{"eventType":`)
	w.str(string(h.EventType))
	w.raw(`,"correlationId":`)
	w.str(h.CorrelationID)
	w.raw(`,"timestamp":`)
	w.time(h.Timestamp)
	w.raw(`,"source":{"type":`)
	w.str(string(h.Source.Type))
	w.raw(`,"id":`)
	w.str(h.Source.ID)
	w.raw(`},"__version":`)
	w.str(h.Version)
}

// Sizes of the encodings, for the buffer: an envelope with the members
// of the payload's own, a reading, an answer's members besides its result
// and error.
const (
	envelopeBytes = 320
	readingBytes  = 160
	answerBytes   = 128
)

func (m *DeviceTelemetry) sizeHint() int {
	return envelopeBytes + readingBytes*len(m.Payload.Readings)
}

func (m *IntegrationMQTTReceived) sizeHint() int {
	return envelopeBytes + len(m.Payload.Topic) + len(m.Payload.Payload)
}

func (m *DeviceResponseRPC) sizeHint() int {
	n := envelopeBytes + answerBytes + len(m.Payload.Result)
	if m.Error != nil {
		n += len(m.Error.Code) + len(m.Error.Message)
	}
	return n
}

func (m *DeviceResponseRPC) appendJSON(w *jsonWriter) {
	w.header(&m.Envelope)
	w.raw(`,"status":`)
	w.str(string(m.Status))
	if m.Error != nil {
		w.raw(`,"error":{"code":`)
		w.str(m.Error.Code)
		w.raw(`,"message":`)
		w.str(m.Error.Message)
		w.raw("}")
	}
	w.raw(`,"payload":{"deviceId":`)
	w.str(m.Payload.DeviceID)
	w.raw(`,"method":`)
	w.str(m.Payload.Method)
	if m.Payload.Result != nil {
		w.raw(`,"result":`)
		w.value(m.Payload.Result)
	}
	if m.Payload.DurationMs != 0 { // omitzero: -0 too
		w.raw(`,"durationMs":`)
		w.float(m.Payload.DurationMs)
	}
	w.raw("}}")
}

func (m *DeviceTelemetry) appendJSON(w *jsonWriter) {
	w.envelope(&m.Envelope)
	w.raw(`{"deviceId":`)
	w.str(m.Payload.DeviceID)
	w.raw(`,"readings":[`)
	for i, r := range m.Payload.Readings {
		if i > 0 {
			w.raw(",")
		}
		w.raw(`{"sensor":`)
		w.str(r.Sensor)
		w.raw(`,"metric":`)
		w.str(r.Metric)
		w.raw(`,"value":`)
		w.float(r.Value)
		w.raw(`,"unit":`)
		w.str(r.Unit)
		w.raw(`,"at":`)
		w.time(r.At)
		w.raw("}")
	}
	w.raw("]}}")
}

func (m *IntegrationMQTTReceived) appendJSON(w *jsonWriter) {
	w.envelope(&m.Envelope)
	w.raw(`{"topic":`)
	w.str(m.Payload.Topic)
	w.raw(`,"payload":`)
	w.str(m.Payload.Payload)
	if m.Payload.PayloadEncoding != "" {
		w.raw(`,"payloadEncoding":`)
		w.str(string(m.Payload.PayloadEncoding))
	}
	w.raw(`,"qos":`)
	w.int(m.Payload.QoS)
	w.raw(`,"receivedAt":`)
	w.time(m.Payload.ReceivedAt)
	w.raw("}}")
}
