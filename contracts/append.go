package contracts

import (
	"bytes"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/iot-hub/agent/internal/jsonw"
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

// jsonWriter appends a message's JSON: jsonw's writer, and the
// contract's times, raw values and header.
type jsonWriter struct {
	jsonw.Writer
	// checked says that the message passed check: its raw values are
	// valid JSON.
	checked bool
}

// time appends t as encodeTime writes it.
func (w *jsonWriter) time(t time.Time) {
	w.B = append(w.B, '"')
	w.B = t.UTC().AppendFormat(w.B, TimeLayout)
	w.B = append(w.B, '"')
}

// value appends v as json.Marshal writes a jsontext.Value: checked, and
// compact. A value already checked that has neither white space between
// its tokens nor an escape in its strings is that already, as a result
// json.Marshal wrote is: it goes as it is, without a second parse
// (AppendFormat rewrites some escapes, so those go through it).
func (w *jsonWriter) value(v jsontext.Value) {
	if w.Err != nil {
		return
	}
	if w.checked && plainCompact(v) {
		w.B = append(w.B, v...)
		return
	}
	w.B, w.Err = jsontext.AppendFormat(w.B, v)
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
	w.Raw(`,"payload":`)
}

// header appends the header members, opening the message's object.
func (w *jsonWriter) header(h *Envelope) {
	w.Raw(`{"eventType":`)
	w.Str(string(h.EventType))
	w.Raw(`,"correlationId":`)
	w.Str(h.CorrelationID)
	w.Raw(`,"timestamp":`)
	w.time(h.Timestamp)
	w.Raw(`,"source":{"type":`)
	w.Str(string(h.Source.Type))
	w.Raw(`,"id":`)
	w.Str(h.Source.ID)
	w.Raw(`},"__version":`)
	w.Str(h.Version)
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
	w.Raw(`,"status":`)
	w.Str(string(m.Status))
	if m.Error != nil {
		w.Raw(`,"error":{"code":`)
		w.Str(m.Error.Code)
		w.Raw(`,"message":`)
		w.Str(m.Error.Message)
		w.Raw("}")
	}
	w.Raw(`,"payload":{"deviceId":`)
	w.Str(m.Payload.DeviceID)
	w.Raw(`,"method":`)
	w.Str(m.Payload.Method)
	if m.Payload.Result != nil {
		w.Raw(`,"result":`)
		w.value(m.Payload.Result)
	}
	if m.Payload.DurationMs != 0 { // omitzero: -0 too
		w.Raw(`,"durationMs":`)
		w.Float(m.Payload.DurationMs)
	}
	w.Raw("}}")
}

func (m *DeviceTelemetry) appendJSON(w *jsonWriter) {
	w.envelope(&m.Envelope)
	w.Raw(`{"deviceId":`)
	w.Str(m.Payload.DeviceID)
	w.Raw(`,"readings":[`)
	for i, r := range m.Payload.Readings {
		if i > 0 {
			w.Raw(",")
		}
		w.Raw(`{"sensor":`)
		w.Str(r.Sensor)
		w.Raw(`,"metric":`)
		w.Str(r.Metric)
		w.Raw(`,"value":`)
		w.Float(r.Value)
		w.Raw(`,"unit":`)
		w.Str(r.Unit)
		w.Raw(`,"at":`)
		w.time(r.At)
		w.Raw("}")
	}
	w.Raw("]}}")
}

func (m *IntegrationMQTTReceived) appendJSON(w *jsonWriter) {
	w.envelope(&m.Envelope)
	w.Raw(`{"topic":`)
	w.Str(m.Payload.Topic)
	w.Raw(`,"payload":`)
	w.Str(m.Payload.Payload)
	if m.Payload.PayloadEncoding != "" {
		w.Raw(`,"payloadEncoding":`)
		w.Str(string(m.Payload.PayloadEncoding))
	}
	w.Raw(`,"qos":`)
	w.Int(m.Payload.QoS)
	w.Raw(`,"receivedAt":`)
	w.time(m.Payload.ReceivedAt)
	w.Raw("}}")
}
