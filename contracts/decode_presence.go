package contracts

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"strconv"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// A few required members have a zero value that is also valid (a reading's
// value 0, an empty unit, QoS 0, an empty MQTT body), so a missing member
// cannot be told from the zero value after decoding, and an optional enum
// written as "" from one left out. Their types decode through a wire form
// with pointers, which shows what was absent.

// Reasons the wire forms report.
var (
	errMissing    = errors.New("required")
	errQoS        = errors.New("not an integer from 0 to 2")
	errEmptyEnum  = errors.New(`"" is not one of utf8, base64`)
	errConnection = errors.New("not an integer from 1 to " + strconv.FormatUint(MaxConnection, 10))
)

// missing reports the member name of the object just decoded as absent.
func missing(dec *jsontext.Decoder, name string) error {
	return &json.SemanticError{JSONPointer: dec.StackPointer().AppendToken(name), Err: errMissing}
}

var readingType = reflect.TypeFor[Reading]()

// decodeReading reads a Reading member by member: telemetry is most of
// what the agent decodes, and this is several times faster than a wire
// struct. Member names are compared raw, unescaped only when they hold an
// escape. After an error it reads on to the end of the object, so the
// array around it stays readable.
func decodeReading(dec *jsontext.Decoder, r *Reading) error {
	if k := dec.PeekKind(); k != '{' {
		if err := dec.SkipValue(); err != nil {
			return err
		}
		return &json.SemanticError{JSONKind: k, GoType: readingType}
	}
	if _, err := dec.ReadToken(); err != nil {
		return err
	}
	*r = Reading{}
	var (
		hasValue, hasUnit bool
		first             error
	)
	for dec.PeekKind() == '"' {
		name, err := dec.ReadValue()
		if err != nil {
			return err
		}
		if first != nil {
			if err := dec.SkipValue(); err != nil {
				return err
			}
			continue
		}
		switch unquoteName(name) {
		case "sensor":
			r.Sensor, err = readStringMember(dec)
		case "metric":
			r.Metric, err = readStringMember(dec)
		case "unit":
			r.Unit, err = readStringMember(dec)
			hasUnit = true
		case "value":
			r.Value, err = readNumberMember(dec)
			hasValue = true
		case "at":
			err = decodeTime(dec, &r.At)
			if serr, ok := err.(*json.SemanticError); ok {
				serr.JSONPointer = dec.StackPointer()
			}
		default:
			err = dec.SkipValue()
		}
		first = err
	}
	if _, err := dec.ReadToken(); err != nil { // the closing brace
		return err
	}
	switch {
	case first != nil:
		return first
	case !hasValue:
		return missing(dec, "value")
	case !hasUnit:
		return missing(dec, "unit")
	}
	return nil
}

// unquoteName returns the member name of the raw JSON string name.
func unquoteName(name jsontext.Value) string {
	if bytes.IndexByte(name, '\\') < 0 {
		return string(name[1 : len(name)-1]) // no allocation in a switch
	}
	var s string
	if err := json.Unmarshal(name, &s); err != nil {
		return "" // cannot happen: the decoder checked the string
	}
	return s
}

// readStringMember reads a member value that must be a string.
func readStringMember(dec *jsontext.Decoder) (string, error) {
	if k := dec.PeekKind(); k != '"' {
		if err := dec.SkipValue(); err != nil {
			return "", err
		}
		return "", &json.SemanticError{JSONPointer: dec.StackPointer(), JSONKind: k, GoType: reflect.TypeFor[string]()}
	}
	tok, err := dec.ReadToken()
	return tok.String(), err
}

// readNumberMember reads a member value that must be a finite number.
func readNumberMember(dec *jsontext.Decoder) (float64, error) {
	if k := dec.PeekKind(); k != '0' {
		if err := dec.SkipValue(); err != nil {
			return 0, err
		}
		return 0, &json.SemanticError{JSONPointer: dec.StackPointer(), JSONKind: k, GoType: reflect.TypeFor[float64]()}
	}
	tok, err := dec.ReadToken()
	if err != nil {
		return 0, err
	}
	f, err := tok.Float()
	if err != nil {
		return 0, &json.SemanticError{JSONPointer: dec.StackPointer(), JSONKind: '0', GoType: reflect.TypeFor[float64](), Err: strconv.ErrRange}
	}
	return f, nil
}

type mqttReceivedWire struct {
	Topic           string    `json:"topic"`
	Payload         *string   `json:"payload"`
	PayloadEncoding *Encoding `json:"payloadEncoding"`
	QoS             *float64  `json:"qos"` // JSON has numbers: 1.0 is the integer 1
	ReceivedAt      time.Time `json:"receivedAt"`
}

func decodeMQTTReceived(dec *jsontext.Decoder, p *IntegrationMQTTReceivedPayload) error {
	var w mqttReceivedWire
	if err := json.UnmarshalDecode(dec, &w); err != nil {
		return err
	}
	switch {
	case w.Payload == nil:
		return missing(dec, "payload")
	case w.QoS == nil:
		return missing(dec, "qos")
	case *w.QoS != math.Trunc(*w.QoS) || *w.QoS < 0 || *w.QoS > 2:
		return &json.SemanticError{JSONPointer: dec.StackPointer().AppendToken("qos"), Err: errQoS}
	case w.PayloadEncoding != nil && *w.PayloadEncoding == "":
		return &json.SemanticError{JSONPointer: dec.StackPointer().AppendToken("payloadEncoding"), Err: errEmptyEnum}
	}
	*p = IntegrationMQTTReceivedPayload{Topic: w.Topic, Payload: *w.Payload, QoS: int(*w.QoS), ReceivedAt: w.ReceivedAt}
	if w.PayloadEncoding != nil {
		p.PayloadEncoding = *w.PayloadEncoding
	}
	return nil
}

type dlqWire struct {
	Reason        string    `json:"reason"`
	OriginalTopic string    `json:"originalTopic"`
	Raw           *string   `json:"raw"`
	RawEncoding   *Encoding `json:"rawEncoding"`
	Error         string    `json:"error"`
}

func decodeDLQ(dec *jsontext.Decoder, p *SystemDLQPayload) error {
	var w dlqWire
	if err := json.UnmarshalDecode(dec, &w); err != nil {
		return err
	}
	switch {
	case w.Raw == nil:
		return missing(dec, "raw")
	case w.RawEncoding != nil && *w.RawEncoding == "":
		return &json.SemanticError{JSONPointer: dec.StackPointer().AppendToken("rawEncoding"), Err: errEmptyEnum}
	}
	*p = SystemDLQPayload{Reason: w.Reason, OriginalTopic: w.OriginalTopic, Raw: *w.Raw, Error: w.Error}
	if w.RawEncoding != nil {
		p.RawEncoding = *w.RawEncoding
	}
	return nil
}

type deviceStatusWire struct {
	DeviceID   string       `json:"deviceId"`
	Status     DeviceStatus `json:"status"`
	Reason     string       `json:"reason"`
	Connection *float64     `json:"connection"` // JSON has numbers: 1.0 is the integer 1
}

func decodeDeviceStatus(dec *jsontext.Decoder, p *DeviceStatusChangedPayload) error {
	var w deviceStatusWire
	if err := json.UnmarshalDecode(dec, &w); err != nil {
		return err
	}
	*p = DeviceStatusChangedPayload{DeviceID: w.DeviceID, Status: w.Status, Reason: w.Reason}
	if c := w.Connection; c != nil {
		if *c != math.Trunc(*c) || *c < 1 || *c > MaxConnection {
			return &json.SemanticError{JSONPointer: dec.StackPointer().AppendToken("connection"), Err: errConnection}
		}
		p.Connection = uint64(*c)
	}
	return nil
}
