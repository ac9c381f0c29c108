package confkeys

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
)

// limit is the range of a number key (a duration, a size or a whole
// number), from the limit tag of its field: `limit:"MIN..MAX"`. MIN is a
// value of the key's type ("1s", "1MiB", "1", "0x76"); MAX is one too, or
// empty when there is no upper bound, or the name of another key
// ("1ms..interval"), which the component's Validate compares it with.
//
// A key whose values are a set with holes (1, 2, 4, 8 or 16) has the
// set's bounds as its limit, and its Validate checks the set.
type limit struct {
	text     string // the tag, for messages
	min, max int64
	hasMax   bool // max is a value: not another key, not unbounded
	hex      bool // a whole number's limit written in hex: say values in hex
}

// parseLimit parses tag, the limit tag of a field of type t (a
// time.Duration, a Size or a whole number, or a pointer to one).
func parseLimit(tag string, t reflect.Type) (*limit, error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	parse := func(s string) (int64, error) {
		switch {
		case t == durationType:
			d, err := time.ParseDuration(s)
			return int64(d), err
		case t == sizeType:
			n, err := ParseSize(s)
			return int64(n), err
		case isInteger(t):
			n, err := strconv.ParseInt(s, 0, 64)
			if err == nil && !setInt(reflect.New(t).Elem(), n) {
				return 0, fmt.Errorf("%s is not a %v", s, t)
			}
			return n, err
		}
		return 0, fmt.Errorf("a limit on a %v, not a duration, size or whole number", t)
	}
	minText, maxText, ok := strings.Cut(tag, "..")
	if !ok {
		return nil, fmt.Errorf("limit %q is not MIN..MAX", tag)
	}
	l := &limit{text: tag, hex: isInteger(t) && strings.HasPrefix(minText, "0x")}
	var err error
	if l.min, err = parse(minText); err != nil {
		return nil, fmt.Errorf("limit %q: %w", tag, err)
	}
	if maxText != "" && !isKeyName(maxText) {
		if l.max, err = parse(maxText); err != nil {
			return nil, fmt.Errorf("limit %q: %w", tag, err)
		}
		l.hasMax = true
	}
	return l, nil
}

// isKeyName reports whether s, the MAX of a limit, names a key ("interval")
// rather than giving a value, which starts with a digit or a sign.
func isKeyName(s string) bool {
	return s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z'
}

// isInteger reports whether t is an integer type other than a duration
// or a size.
func isInteger(t reflect.Type) bool {
	return wholeNumber(t) && t != durationType && t != sizeType
}

// wholeNumber reports whether t's values are whole numbers: t is an
// integer type.
func wholeNumber(t reflect.Type) bool {
	return t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64
}

// setInt sets v, an integer, to n; false when n does not fit v's type.
func setInt(v reflect.Value, n int64) bool {
	if v.CanInt() {
		if v.OverflowInt(n) {
			return false
		}
		v.SetInt(n)
		return true
	}
	if n < 0 || v.OverflowUint(uint64(n)) {
		return false
	}
	v.SetUint(uint64(n))
	return true
}

// refuse returns the *FieldError of v, read from n at path, when v is
// outside l; nil when it is within l, or when l is nil.
func (l *limit) refuse(n ast.Node, path string, v reflect.Value) error {
	if l == nil {
		return nil
	}
	if msg := l.check(v); msg != "" {
		return invalid(n, path, msg)
	}
	return nil
}

// check returns what is wrong with v, a value of the limit's field (or a
// pointer to one, nil passing), or "" when it is within the limit.
func (l *limit) check(v reflect.Value) string {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return ""
		}
		v = v.Elem()
	}
	if isInteger(v.Type()) {
		if v.CanInt() {
			return l.checkInt(v.Int())
		}
		return l.checkInt(int64(v.Uint()))
	}
	return l.message(v.Int(), v.Interface())
}

// checkInt is check for n, a whole number; "" when l is nil.
func (l *limit) checkInt(n int64) string {
	if l == nil {
		return ""
	}
	var said any = n
	if l.hex {
		said = fmt.Sprintf("%#x", n)
	}
	return l.message(n, said)
}

// message says that n, written as said, is outside l; "" when it is
// within.
func (l *limit) message(n int64, said any) string {
	minText, maxText, _ := strings.Cut(l.text, "..")
	switch {
	case n >= l.min && (!l.hasMax || n <= l.max):
		return ""
	case maxText == "":
		return fmt.Sprintf("%v is below %s", said, minText)
	}
	return fmt.Sprintf("%v is outside %s", said, l.text)
}

// CheckLimits returns the first value of v (a struct, or a pointer to
// one) that is outside the limits of its key, as an ErrInvalid
// *FieldError at the key's path; nil when every value is within its
// limits. It follows the keys that are structs, pointers and lists; a
// limit naming another key checks only MIN.
func CheckLimits(v any) error {
	return checkLimits(reflect.ValueOf(v), "")
}

func checkLimits(v reflect.Value, path string) error {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return checkLimits(v.Elem(), path)
	case reflect.Slice:
		for i := range v.Len() {
			if err := checkLimits(v.Index(i), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case reflect.Struct:
		fs := fieldsOf(v.Type())
		for _, key := range fs.keys {
			f := fs.byKey[key]
			fv, p := v.FieldByIndex(f.index), joinPath(path, key)
			if f.limit == nil {
				if err := checkLimits(fv, p); err != nil {
					return err
				}
			} else if msg := f.limit.check(fv); msg != "" {
				return Invalid(p, "%s", msg)
			}
		}
	}
	return nil
}
