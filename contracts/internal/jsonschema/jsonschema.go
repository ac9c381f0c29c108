// Package jsonschema generates the JSON Schema (draft 2020-12) of every
// message type of package contracts by reflecting on its Go type, so that
// the schema files in contracts/schema cannot drift from the decoder.
//
// The mapping of Go types and the grammar of the `jsonschema:"..."` struct
// tag it reads are documented on the schemagen command
// (contracts/internal/schemagen), which writes the files.
package jsonschema

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/iot-hub/agent/contracts"
)

// Draft is the JSON Schema dialect of every generated schema.
const Draft = "https://json-schema.org/draft/2020-12/schema"

// IDPrefix starts the $id of every generated schema; the event type and
// ".json" follow.
const IDPrefix = "https://schemas.iot-hub.dev/contracts/v1/"

// ID returns the $id of the schema of t.
func ID(t contracts.EventType) string { return IDPrefix + FileName(t) }

// FileName returns the name of the schema file of t: "<eventType>.json".
func FileName(t contracts.EventType) string { return string(t) + ".json" }

// Generate returns the schema of the message type t as the bytes of its
// file: JSON indented by two spaces, members in a fixed order, with a
// trailing newline. The same t always gives the same bytes.
func Generate(t contracts.EventType) ([]byte, error) {
	m := contracts.NewMessage(t)
	if m == nil {
		return nil, fmt.Errorf("jsonschema: unknown event type %q", t)
	}
	rt := reflect.TypeOf(m).Elem()
	g := generator{eventType: t}
	var rules []object
	if t.Kind() == contracts.KindResponse {
		rules = append(rules, responseRule())
	}
	body, err := g.structSchema(rt, "", rules...)
	if err != nil {
		return nil, fmt.Errorf("jsonschema: %s: %w", t, err)
	}
	top := object{
		{"$schema", Draft},
		{"$id", ID(t)},
		{"title", rt.Name()},
		{"description", description(t.Kind())},
	}
	top = append(top, body...)
	b, err := json.Marshal(top, jsontext.WithIndent("  "))
	if err != nil {
		return nil, fmt.Errorf("jsonschema: %s: %w", t, err)
	}
	return append(b, '\n'), nil
}

// description is the schema description of a message of kind k.
func description(k contracts.Kind) string {
	switch k {
	case contracts.KindCommand:
		return "A command of the iot-hub v1 contract: it asks for an action. A response to it carries the same correlationId."
	case contracts.KindResponse:
		return "A response of the iot-hub v1 contract: it answers the command with the same correlationId. error is present exactly when status is error."
	default:
		return "An event of the iot-hub v1 contract: it states a fact."
	}
}

// responseRule is the cross-field rule of every response: error is
// required when status is "error" and must be absent otherwise.
func responseRule() object {
	return object{
		{"if", object{
			{"properties", object{{"status", object{{"const", string(contracts.StatusError)}}}}},
			{"required", []string{"status"}},
		}},
		{"then", object{{"required", []string{"error"}}}},
		{"else", object{{"not", object{{"required", []string{"error"}}}}}},
	}
}

// base64Pattern matches standard base64 with padding, as EncodeBytes writes
// it.
const base64Pattern = `^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$`

// encodingRule says that member, written under the [contracts.Encoding]
// held by member encodedBy, is standard base64 when encodedBy is "base64".
func encodingRule(member, encodedBy string) object {
	return object{
		{"if", object{
			{"properties", object{{encodedBy, object{{"const", string(contracts.EncodingBase64)}}}}},
			{"required", []string{encodedBy}},
		}},
		{"then", object{
			{"properties", object{{member, object{{"pattern", base64Pattern}}}}},
		}},
	}
}

// member is one member of an object.
type member struct {
	name  string
	value any
}

// object is a JSON object that keeps its members in order.
type object []member

// MarshalJSONTo writes o with its members in order.
func (o object) MarshalJSONTo(enc *jsontext.Encoder) error {
	if err := enc.WriteToken(jsontext.BeginObject); err != nil {
		return err
	}
	for _, m := range o {
		if err := enc.WriteToken(jsontext.String(m.name)); err != nil {
			return err
		}
		if err := json.MarshalEncode(enc, m.value); err != nil {
			return err
		}
	}
	return enc.WriteToken(jsontext.EndObject)
}

// withRules adds if/then(/else) rules to the object schema o: inline
// when there is one, in an allOf when there are more.
func (o object) withRules(rules []object) object {
	switch len(rules) {
	case 0:
		return o
	case 1:
		return append(o, rules[0]...)
	}
	return append(o, member{"allOf", rules})
}

// generator builds the schema of one message type.
type generator struct {
	eventType contracts.EventType
}

var (
	timeType      = reflect.TypeFor[time.Time]()
	rawValueType  = reflect.TypeFor[jsontext.Value]()
	eventTypeType = reflect.TypeFor[contracts.EventType]()
	enumType      = reflect.TypeFor[interface{ Values() []string }]()
)

// structSchema is the schema of the struct type t found at path, with
// the cross-field rules of its tags and any given rules.
func (g *generator) structSchema(t reflect.Type, path string, rules ...object) (object, error) {
	var (
		props    object
		required []string
	)
	if err := g.fields(t, path, &props, &required, &rules); err != nil {
		return nil, err
	}
	s := object{{"type", "object"}, {"properties", props}}
	if len(required) > 0 {
		s = append(s, member{"required", required})
	}
	return s.withRules(rules), nil
}

// fields appends the members of struct type t, embedded structs inlined
// as json v2 does, to props, required and rules.
func (g *generator) fields(t reflect.Type, path string, props *object, required *[]string, rules *[]object) error {
	type encoded struct{ member, by string }
	var encodings []encoded
	for i := range t.NumField() {
		f := t.Field(i)
		jsonTag := f.Tag.Get("json")
		name, jsonOpts, _ := strings.Cut(jsonTag, ",")
		if jsonTag == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			if f.Type.Kind() != reflect.Struct {
				return fmt.Errorf("%s: embedded %s: only embedded structs are supported", path, f.Type)
			}
			if err := g.fields(f.Type, path, props, required, rules); err != nil {
				return err
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		at := join(path, name)
		for opt := range strings.SplitSeq(jsonOpts, ",") {
			if opt != "" && opt != "omitzero" && opt != "omitempty" {
				return fmt.Errorf("%s: json tag option %q is not supported", at, opt)
			}
		}
		tags, err := parseTag(f.Tag.Get("jsonschema"))
		if err != nil {
			return fmt.Errorf("%s: %w", at, err)
		}
		req := !tags.optional && !hasOption(jsonOpts, "omitzero") && !hasOption(jsonOpts, "omitempty")
		s, err := g.typeSchema(f.Type, at, tags, req)
		if err != nil {
			return fmt.Errorf("%s: %w", at, err)
		}
		*props = append(*props, member{name, s})
		if req {
			*required = append(*required, name)
		}
		if tags.encodedBy != "" {
			encodings = append(encodings, encoded{name, tags.encodedBy})
		}
	}
	for _, e := range encodings {
		if !props.has(e.by) {
			return fmt.Errorf("%s: encodedBy=%s names no member of the same object", join(path, e.member), e.by)
		}
		*rules = append(*rules, encodingRule(e.member, e.by))
	}
	return nil
}

// has reports whether o has a member called name.
func (o object) has(name string) bool {
	for _, m := range o {
		if m.name == name {
			return true
		}
	}
	return false
}

// dateTimePattern narrows format date-time to what the contract accepts
// (see the contracts package's decode_values.go): an upper-case T and Z,
// no leap second, a year from 1970 as written.
const dateTimePattern = `^(19[7-9][0-9]|[2-9][0-9]{3})-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-5][0-9](\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$`

// typeSchema is the schema of a value of type t at path.
func (g *generator) typeSchema(t reflect.Type, path string, tags tagSet, required bool) (object, error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if err := tags.checkApplies(t); err != nil {
		return nil, err
	}
	switch {
	case t == eventTypeType:
		return object{{"type", "string"}, {"const", string(g.eventType)}}, nil
	case t == timeType:
		return object{{"type", "string"}, {"format", "date-time"}, {"pattern", dateTimePattern}}, nil
	case t == rawValueType:
		if !tags.object {
			return nil, errors.New("a jsontext.Value needs the jsonschema tag object: the contract's raw values are JSON objects")
		}
		return object{{"type", "object"}}, nil
	}
	switch t.Kind() {
	case reflect.String:
		s := object{{"type", "string"}}
		switch {
		case tags.constant != nil:
			s = append(s, member{"const", *tags.constant})
		case t.Implements(enumType):
			s = append(s, member{"enum", reflect.Zero(t).Interface().(interface{ Values() []string }).Values()})
		default:
			if tags.format != "" {
				s = append(s, member{"format", tags.format})
			}
			if required && !tags.allowEmpty {
				s = append(s, member{"minLength", 1})
			}
		}
		return s, nil
	case reflect.Bool:
		return object{{"type", "boolean"}}, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return tags.bounds(object{{"type", "integer"}}), nil
	case reflect.Float32, reflect.Float64:
		return tags.bounds(object{{"type", "number"}}), nil
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return nil, fmt.Errorf("unsupported Go type %s (json writes it as base64)", t)
		}
		items, err := g.typeSchema(t.Elem(), path+"[]", tagSet{}, true)
		if err != nil {
			return nil, err
		}
		s := object{{"type", "array"}, {"items", items}}
		if tags.minItems != nil {
			s = append(s, member{"minItems", *tags.minItems})
		}
		return s, nil
	case reflect.Struct:
		return g.structSchema(t, path)
	}
	return nil, fmt.Errorf("unsupported Go type %s", t)
}

// join appends a member name to a dotted path.
func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// hasOption reports whether the comma-separated json tag options include
// opt.
func hasOption(opts, opt string) bool {
	for o := range strings.SplitSeq(opts, ",") {
		if o == opt {
			return true
		}
	}
	return false
}

// tagSet is a parsed `jsonschema:"..."` tag.
type tagSet struct {
	optional, allowEmpty, object bool
	format, encodedBy            string
	constant                     *string
	minimum, maximum             jsontext.Value
	minItems                     *int
}

// parseTag parses the comma-separated items of a jsonschema tag.
func parseTag(tag string) (tagSet, error) {
	var ts tagSet
	if tag == "" {
		return ts, nil
	}
	for item := range strings.SplitSeq(tag, ",") {
		key, value, hasValue := strings.Cut(item, "=")
		flag := func(b *bool) error {
			if hasValue {
				return fmt.Errorf("jsonschema tag %q takes no value", key)
			}
			*b = true
			return nil
		}
		var err error
		switch key {
		case "optional":
			err = flag(&ts.optional)
		case "allowEmpty":
			err = flag(&ts.allowEmpty)
		case "object":
			err = flag(&ts.object)
		case "format", "encodedBy", "const":
			if !hasValue || value == "" {
				return ts, fmt.Errorf("jsonschema tag %s needs a value", key)
			}
			switch key {
			case "format":
				ts.format = value
			case "encodedBy":
				ts.encodedBy = value
			case "const":
				ts.constant = &value
			}
		case "minimum", "maximum":
			if _, perr := strconv.ParseFloat(value, 64); perr != nil || !jsontext.Value(value).IsValid() {
				return ts, fmt.Errorf("jsonschema tag %s=%s: not a JSON number", key, value)
			}
			if key == "minimum" {
				ts.minimum = jsontext.Value(value)
			} else {
				ts.maximum = jsontext.Value(value)
			}
		case "minItems":
			n, perr := strconv.Atoi(value)
			if perr != nil || n < 0 {
				return ts, fmt.Errorf("jsonschema tag minItems=%s: not a non-negative integer", value)
			}
			ts.minItems = &n
		default:
			return ts, fmt.Errorf("unknown jsonschema tag %q", item)
		}
		if err != nil {
			return ts, err
		}
	}
	return ts, nil
}

// checkApplies refuses tags that make no sense on a value of type t, so
// that a misplaced tag is an error instead of being silently dropped.
func (ts tagSet) checkApplies(t reflect.Type) error {
	isString := t.Kind() == reflect.String && t != eventTypeType
	var isNumber bool
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		isNumber = true
	}
	switch {
	case (ts.format != "" || ts.constant != nil || ts.allowEmpty || ts.encodedBy != "") && !isString:
		return fmt.Errorf("jsonschema tags format, const, allowEmpty and encodedBy apply to strings, not %s", t)
	case (ts.minimum != nil || ts.maximum != nil) && !isNumber:
		return fmt.Errorf("jsonschema tags minimum and maximum apply to numbers, not %s", t)
	case ts.minItems != nil && t.Kind() != reflect.Slice && t.Kind() != reflect.Array:
		return fmt.Errorf("jsonschema tag minItems applies to arrays, not %s", t)
	case ts.object && t != rawValueType:
		return fmt.Errorf("jsonschema tag object applies to jsontext.Value, not %s", t)
	}
	return nil
}

// bounds adds the minimum and maximum tags to a number schema.
func (ts tagSet) bounds(s object) object {
	if ts.minimum != nil {
		s = append(s, member{"minimum", ts.minimum})
	}
	if ts.maximum != nil {
		s = append(s, member{"maximum", ts.maximum})
	}
	return s
}
