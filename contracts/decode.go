package contracts

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/iot-hub/agent/contracts/internal/jsonkind"
)

// Decode reads one message: it picks the Go type by eventType and checks
// everything the contract says (see [Validate]). The result is a pointer to
// one of the catalogue's types; use a type switch on it.
//
// A missing __version reads as v1. Unknown members are ignored, so that
// newer producers can add fields. Duplicate member names, invalid UTF-8
// and trailing data are malformed input. Decode never panics.
//
// Every error is an [*Error] naming the field and the reason; it unwraps to
// one sentinel such as [ErrRequired] or [ErrUnsupportedVersion], and holds
// the header as far as it could be read so a command can still be answered.
//
// Decode is safe for concurrent use.
func Decode(data []byte) (Message, error) {
	m, err := decode(data)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// wireHeader holds the header fields of any kind, as read.
type wireHeader struct {
	Envelope
	expiresAt time.Time
	status    ResponseStatus
	errInfo   *ErrorInfo

	hasSource, hasVersion bool
	// The members only some kinds have, kept raw until the kind is known:
	// on a message of another kind they are unknown members, ignored.
	rawExpiresAt, rawStatus, rawError jsontext.Value
}

func (c *Command) setHeader(h *wireHeader) { c.Envelope, c.ExpiresAt = h.Envelope, h.expiresAt }
func (r *Response) setHeader(h *wireHeader) {
	r.Envelope, r.Status, r.Error = h.Envelope, h.status, h.errInfo
}
func (e *Event) setHeader(h *wireHeader) { e.Envelope = h.Envelope }

// decodeOptions are the options every decode uses: v2 defaults (exact
// names, duplicate names refused, UTF-8 enforced), the contract's
// date-times (decode_values.go) and the decoders that tell a missing
// member from a zero one (decode_presence.go).
var decodeOptions = json.WithUnmarshalers(valueDecoders)

var valueDecoders = json.JoinUnmarshalers(
	json.UnmarshalFromFunc(decodeTime),
	json.UnmarshalFromFunc(decodeReading),
	json.UnmarshalFromFunc(decodeMQTTReceived),
	json.UnmarshalFromFunc(decodeDLQ),
	json.UnmarshalFromFunc(decodeDeviceStatus),
)

// nullOptions are decodeOptions that also refuse null (decode_values.go).
// Refusing null costs a hook call on every value, so it is used only for
// input that holds the bytes "null" somewhere: any other input has no null
// to refuse, and decodes the same either way.
var nullOptions = json.WithUnmarshalers(json.JoinUnmarshalers(json.UnmarshalFromFunc(refuseNull), valueDecoders))

// decoder is pooled decoding state: the input, and what has been read
// of the message so far.
type decoder struct {
	buf bytes.Buffer
	dec jsontext.Decoder
	hdr wireHeader
	// fatal is a syntax error: the input cannot be read any further.
	fatal error

	msg        Message        // of the type eventType names; nil before, or when unknown
	rawPayload jsontext.Value // a payload read before eventType
	hasPayload bool
	first      *Error // the first field error
	versionErr *Error // __version of the wrong kind
}

var decoders = sync.Pool{New: func() any { return new(decoder) }}

func decode(data []byte) (Message, *Error) {
	d := decoders.Get().(*decoder)
	defer func() {
		d.buf = bytes.Buffer{}
		d.dec.Reset(&d.buf) // drop references to data
		d.msg, d.rawPayload, d.first = nil, nil, nil
		decoders.Put(d)
	}()
	d.buf = *bytes.NewBuffer(data)
	d.dec.Reset(&d.buf, decodeOptions)
	d.hdr, d.fatal = wireHeader{}, nil
	d.msg, d.rawPayload, d.hasPayload, d.first, d.versionErr = nil, nil, false, nil, nil
	return d.message()
}

// message reads the top-level object in one pass, then checks it. The
// payload is decoded straight into its type when eventType came before
// it, as every producer we know writes it; otherwise it is kept raw and
// decoded at the end.
func (d *decoder) message() (Message, *Error) {
	if err := d.openObject(); err != nil {
		return nil, err
	}
	d.readMembers()
	if err := d.closeObject(); err != nil {
		return nil, d.fail(err, d.msg)
	}
	// What is wrong, in order of use to the sender: the version, the type,
	// then the first field error in input order, then the contract checks.
	if err := d.checkVersion(); err != nil {
		return nil, d.fail(err, nil)
	}
	if d.msg == nil {
		return nil, d.fail(d.unknownType(), nil)
	}
	d.finishHeader()
	msg := d.msg
	msg.setHeader(&d.hdr)
	if d.first != nil {
		return nil, d.fail(d.first, msg)
	}
	if err := checkHeader(msg); err != nil {
		return nil, d.fail(err, msg)
	}
	if !d.hasPayload {
		return nil, d.fail(errRequired("payload"), msg)
	}
	if err := msg.payload().check(); err != nil {
		return nil, d.fail(err, msg)
	}
	return msg, nil
}

// openObject reads the opening brace of the top-level object.
func (d *decoder) openObject() *Error {
	if k := d.dec.PeekKind(); k != '{' {
		if k == 0 { // the peek failed: empty input or a syntax error
			_, err := d.dec.ReadToken()
			return fromJSONError(err)
		}
		return newError(ErrMalformed, "", "want a JSON object, got "+jsonkind.Name(k))
	}
	if _, err := d.dec.ReadToken(); err != nil {
		return fromJSONError(err)
	}
	return nil
}

// readMembers reads the members of the top-level object, until its end
// or a syntax error (d.fatal). A field error is kept (the first one) and
// reading goes on, to fill the header for an answer.
func (d *decoder) readMembers() {
	dec, h := &d.dec, &d.hdr
	for d.fatal == nil && dec.PeekKind() == '"' {
		name, err := dec.ReadToken()
		if err != nil {
			d.fatal = err
			return
		}
		switch name.String() {
		case "eventType":
			s, err := d.readString("eventType")
			d.keep(err)
			h.EventType = EventType(s)
			if spec, ok := catalogue[h.EventType]; ok && d.msg == nil {
				d.msg = spec.new()
			}
		case "correlationId":
			s, err := d.readString("correlationId")
			d.keep(err)
			h.CorrelationID = s
		case "timestamp":
			d.keep(d.readInto("timestamp", &h.Timestamp))
		case "source":
			h.hasSource = true
			d.keep(d.readInto("source", &h.Source))
		case "__version":
			h.hasVersion = true
			h.Version, d.versionErr = d.readString("__version")
		case "expiresAt":
			h.rawExpiresAt = d.readRaw()
		case "status":
			h.rawStatus = d.readRaw()
		case "error":
			h.rawError = d.readRaw()
		case "payload":
			d.readPayload()
		default:
			d.fatal = dec.SkipValue()
		}
	}
}

// readPayload reads the payload member: into the message's type when
// eventType came before it, else raw, for finishHeader.
func (d *decoder) readPayload() {
	d.hasPayload = true
	switch k := d.dec.PeekKind(); {
	case k != '{':
		d.keep(errWrongKind("payload", "object", k))
		d.fatal = d.dec.SkipValue()
	case d.msg != nil:
		d.keep(d.readInto("payload", d.msg.payload()))
	default: // eventType not seen yet
		d.rawPayload = d.readRaw()
	}
}

// closeObject reports a syntax error met while reading, then reads the
// closing brace and makes sure nothing follows it.
func (d *decoder) closeObject() *Error {
	if d.fatal != nil {
		return fromJSONError(d.fatal)
	}
	if _, err := d.dec.ReadToken(); err != nil { // the closing brace
		return fromJSONError(err)
	}
	if _, err := d.dec.ReadToken(); err == nil {
		return newError(ErrMalformed, "", "trailing data after the JSON object")
	} else if !errors.Is(err, io.EOF) {
		return fromJSONError(err)
	}
	return nil
}

// checkVersion reports a __version that is not a string or not v1; a
// missing one reads as v1.
func (d *decoder) checkVersion() *Error {
	h := &d.hdr
	switch {
	case d.versionErr != nil:
		return d.versionErr
	case !h.hasVersion:
		h.Version = Version
	case h.Version != Version:
		return newError(ErrUnsupportedVersion, "__version",
			"unsupported version "+strconv.Quote(h.Version)+"; want "+Version)
	}
	return nil
}

// unknownType is the error of a message whose eventType is missing or
// not in the catalogue, unless a field error came first.
func (d *decoder) unknownType() *Error {
	if d.hdr.EventType == "" {
		return firstError(d.first, errRequired("eventType"))
	}
	return firstError(d.first, newError(ErrUnknownEventType, "eventType",
		strconv.Quote(string(d.hdr.EventType))+" is not in the catalogue"))
}

// finishHeader decodes what waited for the type: a payload that came
// before eventType, and the members only the type's kind has; and it
// requires the source.
func (d *decoder) finishHeader() {
	h := &d.hdr
	if d.rawPayload != nil {
		d.keep(unmarshalAt("payload", d.rawPayload, d.msg.payload()))
	}
	if !h.hasSource {
		d.keep(errRequired("source"))
	}
	switch h.EventType.Kind() {
	case KindCommand:
		if h.rawExpiresAt != nil {
			d.keep(unmarshalAt("expiresAt", h.rawExpiresAt, &h.expiresAt))
		}
	case KindResponse:
		if h.rawStatus != nil {
			d.keep(unmarshalAt("status", h.rawStatus, &h.status))
		}
		if h.rawError != nil {
			h.errInfo = new(ErrorInfo)
			d.keep(unmarshalAt("error", h.rawError, h.errInfo))
		}
	}
}

// keep keeps err when it is the first field error.
func (d *decoder) keep(err *Error) {
	if d.first == nil {
		d.first = err
	}
}

// fail attaches what was read of the message to err.
func (d *decoder) fail(err *Error, msg Message) *Error {
	hdr := d.hdr.Envelope
	if !isUUID(hdr.CorrelationID) {
		hdr.CorrelationID = ""
	}
	if hdr.Version == "" {
		hdr.Version = Version
	}
	err.Header = &hdr
	if msg != nil {
		msg.setHeader(&d.hdr)
		err.Message = msg
	}
	return err
}

// readString reads a string member; a value of another kind is skipped
// and reported as the wrong type.
func (d *decoder) readString(path string) (string, *Error) {
	if k := d.dec.PeekKind(); k != '"' {
		d.fatal = d.dec.SkipValue()
		return "", errWrongKind(path, "string", k)
	}
	tok, err := d.dec.ReadToken()
	if err != nil {
		d.fatal = err
		return "", nil
	}
	return tok.String(), nil
}

// readRaw reads the next value whole, for decoding later.
func (d *decoder) readRaw() jsontext.Value {
	v, err := d.dec.ReadValue()
	d.fatal = err
	return v.Clone()
}

// readInto decodes the next value, the member at path, into v. The value
// is first read whole, so that a semantic error in it (a wrong type, a
// missing member) leaves the outer decoder able to go on reading the header.
func (d *decoder) readInto(path string, v any) *Error {
	raw, err := d.dec.ReadValue()
	if err != nil {
		d.fatal = err
		return nil
	}
	return unmarshalAt(path, raw, v)
}

// unmarshalAt decodes raw, the member at path, into v; error paths are
// made absolute.
func unmarshalAt(path string, raw jsontext.Value, v any) *Error {
	opts := decodeOptions
	if bytes.Contains(raw, []byte("null")) {
		opts = nullOptions
	}
	if err := json.Unmarshal(raw, v, opts); err != nil {
		e := fromJSONError(err)
		e.Path = joinPath(path, e.Path)
		return e
	}
	return nil
}

// fromJSONError turns an error of the json packages into an *Error.
func fromJSONError(err error) *Error {
	var serr *json.SemanticError
	if errors.As(err, &serr) {
		path := pointerPath(serr.JSONPointer)
		var syn *jsontext.SyntacticError
		switch {
		case errors.Is(serr.Err, errMissing):
			return errRequired(path)
		case errors.As(serr.Err, &syn):
			return fromJSONError(syn)
		case serr.Err == nil && serr.GoType != nil:
			return errWrongKind(path, goKindName(serr.GoType), serr.JSONKind)
		case errors.Is(serr.Err, errBefore1970):
			return newError(ErrInvalidValue, path, "date-time before 1970")
		case serr.GoType == timeType:
			return newError(ErrInvalidValue, path, "not an RFC 3339 date-time: "+serr.Err.Error())
		case errors.Is(serr.Err, strconv.ErrSyntax):
			return newError(ErrInvalidValue, path, string(serr.JSONValue)+" is not an integer")
		case errors.Is(serr.Err, strconv.ErrRange):
			return newError(ErrInvalidValue, path, string(serr.JSONValue)+" is out of range")
		case serr.Err != nil:
			return newError(ErrInvalidValue, path, strings.TrimPrefix(serr.Err.Error(), "json: "))
		}
		return newError(ErrInvalidValue, path, serr.Error())
	}
	var syn *jsontext.SyntacticError
	if errors.As(err, &syn) {
		reason := "malformed JSON"
		if syn.Err != nil {
			reason += ": " + strings.TrimPrefix(syn.Err.Error(), "jsontext: ")
		}
		reason += " at offset " + strconv.FormatInt(syn.ByteOffset, 10)
		return newError(ErrMalformed, pointerPath(syn.JSONPointer), reason)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return newError(ErrMalformed, "", "malformed JSON: unexpected end of input")
	}
	return newError(ErrMalformed, "", "malformed JSON: "+err.Error())
}

// goKindName names the JSON kind a Go type takes, for error messages.
func goKindName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == timeType {
		return "string (RFC 3339 date-time)"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Float32, reflect.Float64, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "number"
	case reflect.Bool:
		return "boolean"
	case reflect.Slice, reflect.Array:
		return "array"
	}
	return "object"
}

// maxPath bounds the paths in errors: input nested thousands deep must not
// make an error, and the log line quoting it, as large as the input.
const maxPath = 200

// pointerPath turns a JSON Pointer ("/payload/readings/2/value") into the
// dotted path errors use ("payload.readings[2].value"). A path longer than
// maxPath keeps its start and end around an ellipsis.
func pointerPath(p jsontext.Pointer) string {
	s := dottedPath(p)
	if len(s) > maxPath {
		s = strings.ToValidUTF8(s[:maxPath/2]+"…"+s[len(s)-maxPath/2:], "")
	}
	return s
}

func dottedPath(p jsontext.Pointer) string {
	var b strings.Builder
	for tok := range p.Tokens() {
		if _, err := strconv.Atoi(tok); err == nil && b.Len() > 0 {
			b.WriteString("[" + tok + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(tok)
	}
	return b.String()
}

func joinPath(parent, child string) string {
	switch {
	case child == "":
		return parent
	case strings.HasPrefix(child, "["):
		return parent + child
	}
	return parent + "." + child
}
