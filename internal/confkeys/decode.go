package confkeys

// The YAML library is github.com/goccy/go-yaml rather than gopkg.in/yaml.v3:
// its parser gives an AST whose every node carries its position, and it
// decodes a scalar node on its own (yaml.NodeToValue), so that the decoder
// below can walk the tree beside the Go types and name the key path of
// every error ("uplink.mqtt.brokr: unknown key (did you mean broker?)").
// Its own strict mode (yaml.Strict) reports an unknown field by line only,
// in map order when there are several, and an invalid duration with
// neither line nor path; yaml.v3's KnownFields likewise gives only a line,
// and yaml.v3 is no longer maintained.

import (
	"encoding"
	"fmt"
	"math"
	"reflect"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Document is a parsed YAML document. It is not safe for concurrent use.
type Document struct {
	body  ast.Node       // nil for an empty document
	lines map[string]int // key path → line, of the keys decoded
}

// Parse parses data, which must hold at most one YAML document. Its
// errors are *FieldErrors wrapping ErrSyntax.
func Parse(data []byte) (*Document, error) {
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		e := &FieldError{Msg: "invalid YAML: " + err.Error(), Err: ErrSyntax}
		if ye, ok := err.(yaml.Error); ok {
			e.Msg = "invalid YAML: " + ye.GetMessage()
			if tk := ye.GetToken(); tk != nil {
				e.Line = tk.Position.Line
			}
		}
		return nil, e
	}
	doc := &Document{lines: map[string]int{}}
	switch {
	case len(f.Docs) > 1:
		return nil, &FieldError{Line: line(f.Docs[1]), Msg: "more than one YAML document", Err: ErrSyntax}
	case len(f.Docs) == 1:
		doc.body = f.Docs[0].Body
	}
	return doc, nil
}

// Decode decodes the document onto v, a pointer, as the package doc
// says. Its errors are *FieldErrors, with the line and the key path.
func (doc *Document) Decode(v any) error {
	if doc.body == nil {
		return nil
	}
	d := decoder{lines: doc.lines}
	return d.value(doc.body, reflect.ValueOf(v).Elem(), "", nil)
}

// Line returns the line of the key at path (1-based), or 0 when the
// document holds no such key, or when doc is nil.
func (doc *Document) Line(path string) int {
	if doc == nil {
		return 0
	}
	return doc.lines[path]
}

// A MappingDecoder decodes a YAML mapping itself: a type whose keys depend
// on the value of one of them, such as a sensor whose keys are its type's.
// The decoder calls DecodeMapping on a pointer to the value.
type MappingDecoder interface {
	DecodeMapping(m *Mapping) error
}

// Mapping is a YAML mapping being decoded, given to a MappingDecoder.
type Mapping struct {
	d     *decoder
	pairs []*ast.MappingValueNode
	path  string
}

// Scalar returns the text of the value of key, when m has key and its
// value is a scalar.
func (m *Mapping) Scalar(key string) (string, bool) {
	for _, kv := range m.pairs {
		if k, ok := scalarText(kv.Key); ok && k == key {
			return scalarText(kv.Value)
		}
	}
	return "", false
}

// Decode decodes m's pairs in the file's order onto targets, pointers to
// structs (nil ones are skipped): each key onto the field of the first
// target that has it, checked against the field's limits. A key that no
// target has is refused with the message refuse returns for it: such as
// "unknown key" and [Suggest]'s suggestion.
func (m *Mapping) Decode(refuse func(key string) string, targets ...any) error {
	var structs []reflect.Value
	var fields []structFields
	for _, t := range targets {
		v := reflect.ValueOf(t)
		if t == nil || v.IsNil() {
			continue
		}
		structs = append(structs, v.Elem())
		fields = append(fields, fieldsOf(v.Elem().Type()))
	}
	for _, kv := range m.pairs {
		key, ok := scalarText(kv.Key)
		if !ok {
			return invalid(kv.Key, m.path, "a key must be a string, not "+describe(kv.Key))
		}
		p := joinPath(m.path, key)
		found := false
		for i, fs := range fields {
			f, ok := fs.byKey[key]
			if !ok {
				continue
			}
			m.d.lines[p] = line(kv.Key)
			if err := m.d.value(kv.Value, structs[i].FieldByIndex(f.index), p, f.limit); err != nil {
				return err
			}
			found = true
			break
		}
		if !found {
			return &FieldError{Line: line(kv.Key), Path: p, Msg: refuse(key), Err: ErrUnknownKey}
		}
	}
	return nil
}

// decoder decodes a YAML tree onto a Go value beside its type: structs
// take mappings whose keys are their yaml tags, slices take sequences,
// and scalars are decoded by the YAML library.
type decoder struct {
	lines map[string]int // key path → line
}

var (
	durationType        = reflect.TypeFor[time.Duration]()
	sizeType            = reflect.TypeFor[Size]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	mappingDecoderType  = reflect.TypeFor[MappingDecoder]()
)

// value decodes n onto v, the value at path, within lim when lim is not
// nil.
func (d *decoder) value(n ast.Node, v reflect.Value, path string, lim *limit) error {
	n = untagged(n)
	switch n.(type) {
	case *ast.AnchorNode, *ast.AliasNode:
		return invalid(n, path, "YAML anchors and aliases are not supported: write the value out")
	}
	if leftOut(n) {
		return nil // the default applies
	}
	t := v.Type()
	switch {
	case t == durationType:
		if err := d.duration(n, v, path); err != nil {
			return err
		}
		return lim.refuse(n, path, v)
	case reflect.PointerTo(t).Implements(textUnmarshalerType):
		s, ok := scalarText(n)
		if !ok {
			return invalid(n, path, "want a scalar, not "+describe(n))
		}
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			return invalid(n, path, err.Error())
		}
		return lim.refuse(n, path, v)
	case reflect.PointerTo(t).Implements(mappingDecoderType):
		pairs, err := pairsOf(n, path)
		if err != nil {
			return err
		}
		return v.Addr().Interface().(MappingDecoder).DecodeMapping(&Mapping{d: d, pairs: pairs, path: path})
	case t.Kind() == reflect.Pointer:
		p := reflect.New(t.Elem())
		if err := d.value(n, p.Elem(), path, lim); err != nil {
			return err
		}
		v.Set(p)
		return nil
	case t.Kind() == reflect.Struct:
		pairs, err := pairsOf(n, path)
		if err != nil {
			return err
		}
		m := &Mapping{d: d, pairs: pairs, path: path}
		keys := fieldsOf(t).keys
		return m.Decode(func(key string) string { return "unknown key" + Suggest(key, keys) }, v.Addr().Interface())
	case t.Kind() == reflect.Map:
		return d.dictionary(n, v, path)
	case t.Kind() == reflect.Slice:
		seq, ok := n.(*ast.SequenceNode)
		if !ok {
			return invalid(n, path, "want a list, not "+describe(n))
		}
		s := reflect.MakeSlice(t, len(seq.Values), len(seq.Values))
		for i, e := range seq.Values {
			p := fmt.Sprintf("%s[%d]", path, i)
			d.lines[p] = line(e)
			if err := d.value(e, s.Index(i), p, nil); err != nil {
				return err
			}
		}
		v.Set(s)
		return nil
	}
	if _, ok := scalarText(n); !ok || fraction(n, t) {
		return invalid(n, path, "want "+kindName(t)+", not "+describe(n))
	}
	if wholeNumber(t) {
		return d.wholeNumber(n, v, path, lim)
	}
	p := reflect.New(t)
	if err := yaml.NodeToValue(n, p.Interface()); err != nil {
		return invalid(n, path, "want "+kindName(t)+", not "+describe(n))
	}
	v.Set(p.Elem())
	return nil
}

// wholeNumber decodes n onto v, a whole number, within lim: the value is
// checked before it is set, so that one beyond v's type (-1 for a uint16)
// is refused with lim's message.
func (d *decoder) wholeNumber(n ast.Node, v reflect.Value, path string, lim *limit) error {
	var i int64
	if err := yaml.NodeToValue(n, &i); err != nil {
		return invalid(n, path, "want "+kindName(v.Type())+", not "+describe(n))
	}
	if msg := lim.checkInt(i); msg != "" {
		return invalid(n, path, msg)
	}
	if !setInt(v, i) {
		return invalid(n, path, fmt.Sprintf("%d is out of range", i))
	}
	return nil
}

// fraction reports whether n is a number with a fraction (64.5), which
// the YAML library would cut to a whole number for t, whose values are
// whole numbers.
func fraction(n ast.Node, t reflect.Type) bool {
	f, ok := untagged(n).(*ast.FloatNode)
	return ok && wholeNumber(t) && f.Value != math.Trunc(f.Value)
}

// untagged returns n without its YAML tags (!!str).
func untagged(n ast.Node) ast.Node {
	for {
		t, ok := n.(*ast.TagNode)
		if !ok {
			return n
		}
		n = t.Value
	}
}

// leftOut reports whether n, a key's value, is none: null, ~ or nothing.
func leftOut(n ast.Node) bool {
	n = untagged(n)
	return n == nil || n.Type() == ast.NullType
}

// duration decodes a Go duration string; 0 is accepted bare.
func (d *decoder) duration(n ast.Node, v reflect.Value, path string) error {
	s, ok := scalarText(n)
	if !ok {
		return invalid(n, path, `want a duration such as "30s", not `+describe(n))
	}
	if s == "0" {
		v.SetInt(0)
		return nil
	}
	if _, isString := n.(*ast.StringNode); !isString {
		return invalid(n, path, fmt.Sprintf("%s has no unit: write a duration such as %q", s, s+"s"))
	}
	dur, err := time.ParseDuration(s)
	if err != nil {
		return invalid(n, path, fmt.Sprintf(`invalid duration %q: want a Go duration such as "30s" or "1m30s"`, s))
	}
	v.SetInt(int64(dur))
	return nil
}

// pairsOf returns the key-value pairs of the mapping n, the value at path.
func pairsOf(n ast.Node, path string) ([]*ast.MappingValueNode, error) {
	switch m := n.(type) {
	case *ast.MappingNode:
		return m.Values, nil
	case *ast.MappingValueNode:
		return []*ast.MappingValueNode{m}, nil
	}
	return nil, invalid(n, path, "want a mapping of keys to values, not "+describe(n))
}

// dictionary decodes a mapping onto the map v, whose keys are strings:
// any key goes.
func (d *decoder) dictionary(n ast.Node, v reflect.Value, path string) error {
	pairs, err := pairsOf(n, path)
	if err != nil {
		return err
	}
	out := reflect.MakeMapWithSize(v.Type(), len(pairs))
	for _, kv := range pairs {
		key, ok := scalarText(kv.Key)
		if !ok {
			return invalid(kv.Key, path, "a key must be a string, not "+describe(kv.Key))
		}
		p := path + "." + key
		if out.MapIndex(reflect.ValueOf(key)).IsValid() {
			return &FieldError{Line: line(kv.Key), Path: p, Msg: "given twice", Err: ErrInvalid}
		}
		d.lines[p] = line(kv.Key)
		e := reflect.New(v.Type().Elem()).Elem()
		if err := d.value(kv.Value, e, p, nil); err != nil {
			return err
		}
		out.SetMapIndex(reflect.ValueOf(key), e)
	}
	v.Set(out)
	return nil
}

// scalarText returns the text of a scalar node, unquoted.
func scalarText(n ast.Node) (string, bool) {
	switch s := n.(type) {
	case *ast.StringNode:
		return s.Value, true
	case *ast.LiteralNode:
		return s.Value.Value, true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		return n.GetToken().Value, true
	case *ast.TagNode:
		return scalarText(s.Value)
	}
	return "", false
}

// describe names what n is, for messages: `the string "abc"`, `a list`.
func describe(n ast.Node) string {
	switch n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.StringNode, *ast.LiteralNode:
		s, _ := scalarText(n)
		return fmt.Sprintf("the string %q", s)
	}
	if s, ok := scalarText(n); ok {
		return s
	}
	return strings.ToLower(n.Type().String())
}

// kindName names what a value of type t is written as.
func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	if wholeNumber(t) {
		return "a whole number"
	}
	return "a " + t.Kind().String()
}

// invalid is an ErrInvalid at n.
func invalid(n ast.Node, path, msg string) *FieldError {
	return &FieldError{Line: line(n), Path: path, Msg: msg, Err: ErrInvalid}
}

// line is the line of n, or 0.
func line(n ast.Node) int {
	if n == nil || n.GetToken() == nil {
		return 0
	}
	return n.GetToken().Position.Line
}
