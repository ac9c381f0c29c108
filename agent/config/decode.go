package config

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
	"slices"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// decode parses data onto a new Config, recording the line of every key.
func decode(data []byte) (*Config, error) {
	c := &Config{lines: map[string]int{}}
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		e := &Error{Msg: "invalid YAML: " + err.Error(), Err: ErrSyntax}
		if ye, ok := err.(yaml.Error); ok {
			e.Msg = "invalid YAML: " + ye.GetMessage()
			if tk := ye.GetToken(); tk != nil {
				e.Line = tk.Position.Line
			}
		}
		return nil, e
	}
	switch {
	case len(f.Docs) > 1:
		return nil, &Error{Line: line(f.Docs[1]), Msg: "more than one YAML document", Err: ErrSyntax}
	case len(f.Docs) == 0 || f.Docs[0].Body == nil:
		return c, nil
	}
	d := decoder{lines: c.lines}
	if err := d.value(f.Docs[0].Body, reflect.ValueOf(c).Elem(), ""); err != nil {
		return nil, err
	}
	return c, nil
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
)

// value decodes n onto v, the value at path.
func (d *decoder) value(n ast.Node, v reflect.Value, path string) error {
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
		return d.duration(n, v, path)
	case reflect.PointerTo(t).Implements(textUnmarshalerType):
		s, ok := scalarText(n)
		if !ok {
			return invalid(n, path, "want a scalar, not "+describe(n))
		}
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			return invalid(n, path, err.Error())
		}
		return nil
	case t.Kind() == reflect.Pointer:
		p := reflect.New(t.Elem())
		if err := d.value(n, p.Elem(), path); err != nil {
			return err
		}
		v.Set(p)
		return nil
	case t.Kind() == reflect.Struct:
		return d.mapping(n, v, path)
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
			if err := d.value(e, s.Index(i), p); err != nil {
				return err
			}
		}
		v.Set(s)
		return nil
	}
	if _, ok := scalarText(n); !ok || fraction(n, t) {
		return invalid(n, path, "want "+kindName(t)+", not "+describe(n))
	}
	p := reflect.New(t)
	if err := yaml.NodeToValue(n, p.Interface()); err != nil {
		return invalid(n, path, "want "+kindName(t)+", not "+describe(n))
	}
	v.Set(p.Elem())
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

// mapping decodes a mapping onto the struct v: every key must be one of
// its yaml tags, and a key tagged sensor:"TYPE" only appears when the
// mapping's type is TYPE.
func (d *decoder) mapping(n ast.Node, v reflect.Value, path string) error {
	pairs, err := pairsOf(n, path)
	if err != nil {
		return err
	}
	fields := fieldsOf(v.Type())
	kind := ""
	for _, kv := range pairs {
		if k, ok := scalarText(kv.Key); ok && k == "type" {
			kind, _ = scalarText(kv.Value)
		}
	}
	for _, kv := range pairs {
		key, ok := scalarText(kv.Key)
		if !ok {
			return invalid(kv.Key, path, "a key must be a string, not "+describe(kv.Key))
		}
		p := key
		if path != "" {
			p = path + "." + key
		}
		f, ok := fields.byKey[key]
		if !ok {
			return &Error{Line: line(kv.Key), Path: p, Msg: "unknown key" + suggest(key, fields.keys), Err: ErrUnknownKey}
		}
		if types := strings.Fields(f.sensor); len(types) > 0 && kind != "" && !slices.Contains(types, kind) {
			return &Error{Line: line(kv.Key), Path: p, Err: ErrUnknownKey,
				Msg: fmt.Sprintf("unknown key for a %s sensor (%s is a key of %s sensors)", kind, key, strings.Join(types, " and "))}
		}
		d.lines[p] = line(kv.Key)
		fv := v.Field(f.index)
		if err := d.value(kv.Value, fv, p); err != nil {
			return err
		}
		if f.limit != nil && !leftOut(kv.Value) {
			if msg := f.limit.check(fv); msg != "" {
				return invalid(kv.Value, p, msg)
			}
		}
	}
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
			return &Error{Line: line(kv.Key), Path: p, Msg: "given twice", Err: ErrInvalid}
		}
		d.lines[p] = line(kv.Key)
		e := reflect.New(v.Type().Elem()).Elem()
		if err := d.value(kv.Value, e, p); err != nil {
			return err
		}
		out.SetMapIndex(reflect.ValueOf(key), e)
	}
	v.Set(out)
	return nil
}

// structFields are the keys of a struct type.
type structFields struct {
	byKey map[string]field
	keys  []string // in field order
}

type field struct {
	index  int
	sensor string // the sensor types the key belongs to, space-separated; "" for all
	limit  *limit // of a number key; nil for others
}

// fieldsOf lists the keys of struct type t: its exported fields' yaml
// tags, with their limit tags. A malformed limit tag panics: it is a
// mistake in this package, which every test that reads the key finds.
func fieldsOf(t reflect.Type) structFields {
	fs := structFields{byKey: map[string]field{}}
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		key, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if key == "" || key == "-" {
			continue
		}
		fs.byKey[key] = field{index: i, sensor: sf.Tag.Get("sensor")}
		fs.keys = append(fs.keys, key)
	}
	for key, f := range fs.byKey {
		sf := t.Field(f.index)
		tag, ok := sf.Tag.Lookup("limit")
		if !ok {
			continue
		}
		l, err := parseLimit(tag, sf.Type, fs.byKey)
		if err != nil {
			panic(fmt.Sprintf("config: %v.%s: %v", t, sf.Name, err))
		}
		f.limit = l
		fs.byKey[key] = f
	}
	return fs
}

// keysOf returns the keys of struct type t, in field order.
func keysOf(t reflect.Type) []string { return fieldsOf(t).keys }

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

// wholeNumber reports whether t's values are whole numbers: t is an
// integer type.
func wholeNumber(t reflect.Type) bool {
	return t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64
}

// invalid is an ErrInvalid at n.
func invalid(n ast.Node, path, msg string) *Error {
	return &Error{Line: line(n), Path: path, Msg: msg, Err: ErrInvalid}
}

// line is the line of n, or 0.
func line(n ast.Node) int {
	if n == nil || n.GetToken() == nil {
		return 0
	}
	return n.GetToken().Position.Line
}

// suggest returns " (did you mean KEY?)" for the known key closest to key,
// when one is close: the same but for case, or at most two edits away
// from a key that is not much shorter.
func suggest(key string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if strings.EqualFold(k, key) {
			return " (did you mean " + k + "?)"
		}
		if d := editDistance(strings.ToLower(key), strings.ToLower(k)); d < bestD && d < len(k)/2 {
			best, bestD = k, d
		}
	}
	if best == "" {
		return ""
	}
	return " (did you mean " + best + "?)"
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
