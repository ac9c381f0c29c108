package legacy

import (
	"errors"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/contracts/internal/jsonkind"
)

// reader reads the members of a legacy message and keeps the first error,
// so a decoder reads every field in order and checks once at the end.
// Once it has failed, every method returns a zero value.
type reader struct {
	err error
}

// fail records err unless an earlier error was recorded.
func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

// present reports whether a member has a value: an absent member and a
// null one are the same.
func present(v jsontext.Value) bool { return len(v) > 0 && v.Kind() != 'n' }

// object reads v, the required member at path, as a JSON object and
// returns its members by name. The path "" is the whole input, which may
// be anything: its syntax is checked here (duplicate names and invalid
// UTF-8 are malformed) and a value that is not an object is malformed.
func (r *reader) object(path string, v jsontext.Value) map[string]jsontext.Value {
	if r.err != nil {
		return nil
	}
	switch k := v.Kind(); {
	case k == '{':
	case path == "" && k != 0:
		r.fail(newError(contracts.ErrMalformed, "", "want a JSON object, got "+jsonkind.Name(k)))
		return nil
	case path != "" && !present(v):
		r.fail(errRequired(path))
		return nil
	case path != "":
		r.fail(errWrongKind(path, "object", k))
		return nil
	}
	var members map[string]jsontext.Value
	if err := json.Unmarshal(v, &members); err != nil {
		r.fail(newError(contracts.ErrMalformed, path, "malformed JSON: "+cause(err)))
		return nil
	}
	return members
}

// rawObject returns v, the optional member at path, which must be a JSON
// object; absent (or null) gives nil.
func (r *reader) rawObject(path string, v jsontext.Value) jsontext.Value {
	switch {
	case r.err != nil || !present(v):
		return nil
	case v.Kind() != '{':
		r.fail(errWrongKind(path, "object", v.Kind()))
		return nil
	}
	return v
}

// string reads v, the optional member at path, as a string; absent (or
// null) gives "".
func (r *reader) string(path string, v jsontext.Value) string {
	switch {
	case r.err != nil || !present(v):
		return ""
	case v.Kind() != '"':
		r.fail(errWrongKind(path, "string", v.Kind()))
		return ""
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		r.fail(newError(contracts.ErrMalformed, path, cause(err)))
	}
	return s
}

// requiredString is string for a member that must be a non-empty string.
func (r *reader) requiredString(path string, v jsontext.Value) string {
	s := r.string(path, v)
	if r.err == nil && s == "" {
		r.fail(errRequired(path))
	}
	return s
}

// boolean reads v, the required member at path, as a boolean.
func (r *reader) boolean(path string, v jsontext.Value) bool {
	switch k := v.Kind(); {
	case r.err != nil:
		return false
	case !present(v):
		r.fail(errRequired(path))
		return false
	case k != 't' && k != 'f':
		r.fail(errWrongKind(path, "boolean", k))
		return false
	default:
		return k == 't'
	}
}

// parseNumber returns the value of v, a valid JSON number; ok is false
// when it is beyond the range of a float64.
func parseNumber(v jsontext.Value) (f float64, ok bool) {
	f, err := strconv.ParseFloat(string(v), 64)
	return f, err == nil
}

func errWrongKind(path, want string, got jsontext.Kind) *fieldError {
	return newError(contracts.ErrWrongType, path, "want "+want+", got "+jsonkind.Name(got))
}

// cause returns the message of an error of the json packages, without
// their prefixes.
func cause(err error) string {
	var serr *json.SemanticError
	if errors.As(err, &serr) && serr.Err != nil {
		err = serr.Err
	}
	s := strings.TrimPrefix(err.Error(), "json: ")
	return strings.TrimPrefix(s, "jsontext: ")
}

// marshal writes v, a legacy message, as compact JSON with opts. It fails
// on a string that is not valid UTF-8 and on a raw value (params, result)
// that is not valid JSON, which contracts.Validate does not check.
func marshal(v any, opts ...json.Options) ([]byte, error) {
	b, err := json.Marshal(v, opts...)
	if err != nil {
		return nil, newError(contracts.ErrInvalidValue, "", cause(err))
	}
	return b, nil
}
