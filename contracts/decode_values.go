package contracts

import (
	"errors"
	"reflect"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// The json package is lenient in two ways the contract is not, so every
// decode goes through these unmarshalers:
//
//   - It reads null into any Go value as "leave it zero", which would make
//     "reason": null pass for an absent optional field. The contract, like
//     the backend's schemas, has no nullable field: null is a value of the
//     wrong type everywhere, except inside free-form JSON (params, result).
//   - Its time format is not quite the contract's. The contract's
//     date-time is RFC 3339 with an upper-case T and Z, no leap second, and
//     a year from 1970 as written, an offset under 24 hours: a clock not yet set by NTP reads 1970,
//     and anything earlier (Go's zero time, 0001-01-01) is a bug upstream.

// Reasons a date-time that time.Parse reads is refused.
var (
	errBefore1970 = errors.New("year before 1970")
	errOffset     = errors.New("time zone offset out of range")
)

var timeType = reflect.TypeFor[time.Time]()

// refuseNull makes null a wrong-type error for every Go value but the raw
// JSON ones.
func refuseNull(dec *jsontext.Decoder, v any) error {
	if dec.PeekKind() != 'n' {
		return errors.ErrUnsupported // let the next unmarshaler decode it
	}
	if _, ok := v.(*jsontext.Value); ok {
		return errors.ErrUnsupported // let the next unmarshaler decode it
	}
	if _, err := dec.ReadToken(); err != nil {
		return err
	}
	return &json.SemanticError{JSONKind: 'n', GoType: reflect.TypeOf(v).Elem()}
}

// decodeTime reads a contract date-time.
func decodeTime(dec *jsontext.Decoder, t *time.Time) error {
	if k := dec.PeekKind(); k != '"' {
		if err := dec.SkipValue(); err != nil {
			return err
		}
		return &json.SemanticError{JSONKind: k, GoType: timeType}
	}
	tok, err := dec.ReadToken()
	if err != nil {
		return err
	}
	parsed, err := time.Parse(time.RFC3339, tok.String())
	if err != nil {
		return &json.SemanticError{JSONKind: '"', GoType: timeType, Err: err}
	}
	if parsed.Year() < 1970 {
		return &json.SemanticError{JSONKind: '"', GoType: timeType, Err: errBefore1970}
	}
	if _, offset := parsed.Zone(); offset <= -24*60*60 || offset >= 24*60*60 {
		return &json.SemanticError{JSONKind: '"', GoType: timeType, Err: errOffset}
	}
	*t = parsed
	return nil
}
