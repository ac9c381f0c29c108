package contracts

import (
	"encoding/base64"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/iot-hub/agent/contracts/internal/jsonkind"
)

// Validate checks m against its contract exactly as [Decode] does: the
// header, the kind's fields and the payload. The error, if any, is an
// [*Error] naming the first field that is wrong.
func Validate(m Message) error {
	if err := check(m); err != nil {
		return err
	}
	return nil
}

// check is Validate with the concrete error type.
func check(m Message) *Error {
	if err := checkHeader(m); err != nil {
		return err
	}
	return m.payload().check()
}

// checkHeader checks the envelope and the kind's header fields.
func checkHeader(m Message) *Error {
	h := m.Header()
	if h.Version != Version {
		if h.Version == "" {
			return errRequired("__version")
		}
		return newError(ErrUnsupportedVersion, "__version", "unsupported version "+strconv.Quote(h.Version)+"; want "+Version)
	}
	if h.EventType != m.eventType() {
		if h.EventType == "" {
			return errRequired("eventType")
		}
		return newError(ErrInvalidValue, "eventType", strconv.Quote(string(h.EventType))+" does not match the message type "+string(m.eventType()))
	}
	if !isUUID(h.CorrelationID) {
		if h.CorrelationID == "" {
			return errRequired("correlationId")
		}
		return newError(ErrInvalidValue, "correlationId", strconv.Quote(h.CorrelationID)+" is not a UUID")
	}
	return firstError(
		requireTime("timestamp", h.Timestamp),
		checkEnum("source.type", h.Source.Type),
		requireString("source.id", h.Source.ID),
		m.checkHeader(),
	)
}

func (c *Command) checkHeader() *Error {
	if c.ExpiresAt.IsZero() {
		return nil
	}
	return checkTimeRange("expiresAt", c.ExpiresAt)
}

func (*Event) checkHeader() *Error { return nil }

func (r *Response) checkHeader() *Error {
	if err := checkEnum("status", r.Status); err != nil {
		return err
	}
	switch {
	case r.Status == StatusError && r.Error == nil:
		return newError(ErrRequired, "error", "required when status is error")
	case r.Status == StatusSuccess && r.Error != nil:
		return newError(ErrInvalidValue, "error", "must be absent when status is success")
	case r.Error != nil:
		return firstError(
			requireString("error.code", r.Error.Code),
			requireString("error.message", r.Error.Message),
		)
	}
	return nil
}

// firstError returns the first non-nil error.
func firstError(errs ...*Error) *Error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func requireString(path, s string) *Error {
	if s == "" {
		return errRequired(path)
	}
	return nil
}

func requireTime(path string, t time.Time) *Error {
	if t.IsZero() {
		return errRequired(path)
	}
	return checkTimeRange(path, t)
}

// checkTimeRange accepts the date-times the contract can write and read
// back: the years 1970 to 9999 in UTC.
func checkTimeRange(path string, t time.Time) *Error {
	if y := t.UTC().Year(); y < 1970 || y > 9999 {
		return newError(ErrInvalidValue, path, "date-time outside the years 1970 to 9999 (UTC)")
	}
	return nil
}

// enum is a string type with a closed set of values. Values returns a
// copy for callers; members returns the shared list, so checking a value
// allocates nothing.
type enum interface {
	~string
	Values() []string
	members() []string
}

// oneOf reports whether v is one of its type's values.
func oneOf[T enum](v T) bool { return slices.Contains(v.members(), string(v)) }

// checkEnum requires v and that it is one of its type's values.
func checkEnum[T enum](path string, v T) *Error {
	if v == "" {
		return errRequired(path)
	}
	if !oneOf(v) {
		return errEnum(path, v)
	}
	return nil
}

func errEnum[T enum](path string, v T) *Error {
	return newError(ErrInvalidValue, path, strconv.Quote(string(v))+" is not one of "+strings.Join(v.members(), ", "))
}

// checkMethod is checkEnum for the RPC method, with its own sentinel so a
// dispatcher can answer METHOD_NOT_FOUND.
func checkMethod(path string, m Method) *Error {
	err := checkEnum(path, m)
	if err != nil && err.kind == ErrInvalidValue {
		err.kind = ErrUnknownMethod
	}
	return err
}

// checkObject accepts an absent value or one valid JSON object; null, an
// array or a scalar is the wrong type.
func checkObject(path string, v jsontext.Value) *Error {
	switch {
	case len(v) == 0:
		return nil
	case !v.IsValid():
		return newError(ErrInvalidValue, path, "not one valid JSON value")
	case v.Kind() != '{':
		return errWrongKind(path, "object", v.Kind())
	}
	return nil
}

func checkRange(path string, v, lo, hi int) *Error {
	if v < lo || v > hi {
		return newError(ErrInvalidValue, path, strconv.Itoa(v)+" is outside "+strconv.Itoa(lo)+".."+strconv.Itoa(hi))
	}
	return nil
}

// checkDuration checks a duration in milliseconds: finite, not negative.
func checkDuration(path string, ms float64) *Error {
	if ms < 0 || math.IsInf(ms, 0) || math.IsNaN(ms) {
		return newError(ErrInvalidValue, path, strconv.FormatFloat(ms, 'g', -1, 64)+" is not a duration (finite, 0 or more)")
	}
	return nil
}

// checkEncoding checks a byte string written under an [Encoding].
func checkEncoding(path, s, encPath string, e Encoding) *Error {
	if e == "" {
		return nil
	}
	if err := checkEnum(encPath, e); err != nil {
		return err
	}
	if e == EncodingBase64 {
		// The decoder would skip line breaks; the contract has none.
		if _, err := base64.StdEncoding.DecodeString(s); err != nil || strings.ContainsAny(s, "\r\n") {
			return newError(ErrInvalidValue, path, "not standard base64 on one line")
		}
	}
	return nil
}

func errWrongKind(path, want string, got jsontext.Kind) *Error {
	return newError(ErrWrongType, path, "want "+want+", got "+jsonkind.Name(got))
}

// isUUID reports whether s is a UUID in its canonical 36-character form,
// 8-4-4-4-12 hexadecimal digits, either case.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}
