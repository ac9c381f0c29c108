package confkeys

import (
	"fmt"
	"reflect"
	"strings"
)

// structFields are the keys of a struct type.
type structFields struct {
	byKey map[string]field
	keys  []string // in field order
}

type field struct {
	index []int  // in the struct, through inline fields
	limit *limit // of a number key; nil for others
}

// fieldsOf lists the keys of struct type t: its exported fields' yaml
// tags, those of its inline struct fields in their place, with their
// limit tags. A malformed limit tag panics: it is a mistake in the
// struct's package, which every test that reads the key finds.
func fieldsOf(t reflect.Type) structFields {
	fs := structFields{byKey: map[string]field{}}
	fs.add(t, nil)
	return fs
}

// add adds the keys of struct type t, whose fields are at index.
func (fs *structFields) add(t reflect.Type, index []int) {
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		key, opts, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		at := append(append([]int(nil), index...), i)
		if key == "" && hasOption(opts, "inline") {
			if sf.Type.Kind() == reflect.Struct {
				fs.add(sf.Type, at)
			}
			continue // a pointer or an interface: its MappingDecoder's
		}
		if key == "" || key == "-" {
			continue
		}
		f := field{index: at}
		if tag, ok := sf.Tag.Lookup("limit"); ok {
			l, err := parseLimit(tag, sf.Type)
			if err != nil {
				panic(fmt.Sprintf("confkeys: %v.%s: %v", t, sf.Name, err))
			}
			f.limit = l
		}
		fs.byKey[key] = f
		fs.keys = append(fs.keys, key)
	}
}

// hasOption reports whether opts, the options of a yaml tag ("omitempty,
// inline"), hold opt.
func hasOption(opts, opt string) bool {
	for o := range strings.SplitSeq(opts, ",") {
		if strings.TrimSpace(o) == opt {
			return true
		}
	}
	return false
}

// Keys returns the keys of v's type, a struct or a pointer to one, in
// field order: its yaml tags, and those of its inline struct fields.
func Keys(v any) []string {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return fieldsOf(t).keys
}

// Suggest returns " (did you mean KEY?)" for the known key closest to
// key, when one is close: the same but for case, or at most two edits
// away from a key that is not much shorter; else "". Among keys as close,
// the first known wins.
func Suggest(key string, known []string) string {
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

// SetDefault sets *p to v when *p is the zero value: the default of a key
// left out.
func SetDefault[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}
