package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// limit is the range of a number key (a duration, a size or a whole
// number), from the limit tag of its field: `limit:"MIN..MAX"`. MIN is a
// value of the key's type ("1s", "1MiB", "1", "0x76"); MAX is one too, or
// empty when there is no upper bound, or the key of another field of the
// same mapping ("1ms..interval"), which Validate compares it with.
//
// The decoder checks every value it reads against its key's limit. A
// key left out of the file is not read, and takes its default; a key
// written as 0 is read, and refused unless MIN is 0 (0s, 0B): there, 0
// is a value of its own, which the key's doc states. So 0 never stands
// for "the default" in the file, though it does in the Go structs.
//
// A key whose values are a set with holes (1, 2, 4, 8 or 16) has the
// set's bounds as its limit, and Validate checks the set.
type limit struct {
	text     string // the tag, for messages
	min, max int64
	hasMax   bool // max is a value: not another key, not unbounded
	hex      bool // a whole number's limit written in hex: say values in hex
}

// parseLimit parses tag, the limit tag of a field of type t (a
// time.Duration, a Size or a signed integer, or a pointer to one), among
// the keys of its struct.
func parseLimit(tag string, t reflect.Type, keys map[string]field) (*limit, error) {
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
		case isSignedInt(t):
			return strconv.ParseInt(s, 0, t.Bits())
		}
		return 0, fmt.Errorf("a limit on a %v, not a duration, size or signed integer", t)
	}
	minText, maxText, ok := strings.Cut(tag, "..")
	if !ok {
		return nil, fmt.Errorf("limit %q is not MIN..MAX", tag)
	}
	l := &limit{text: tag, hex: isSignedInt(t) && strings.HasPrefix(minText, "0x")}
	var err error
	if l.min, err = parse(minText); err != nil {
		return nil, fmt.Errorf("limit %q: %w", tag, err)
	}
	if _, isKey := keys[maxText]; maxText != "" && !isKey {
		if l.max, err = parse(maxText); err != nil {
			return nil, fmt.Errorf("limit %q: %s is neither a value nor a key: %w", tag, maxText, err)
		}
		l.hasMax = true
	}
	return l, nil
}

// isSignedInt reports whether t is a signed integer type other than a
// duration or a size.
func isSignedInt(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return t != durationType && t != sizeType
	}
	return false
}

// check returns what is wrong with v, a value of the limit's field (or
// a pointer to one), or "" when it is within the limit.
func (l *limit) check(v reflect.Value) string {
	for v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	n := v.Int()
	minText, maxText, _ := strings.Cut(l.text, "..")
	var said any = v.Interface()
	if l.hex {
		said = fmt.Sprintf("%#x", n)
	}
	switch {
	case n >= l.min && (!l.hasMax || n <= l.max):
		return ""
	case maxText == "":
		return fmt.Sprintf("%v is below %s", said, minText)
	}
	return fmt.Sprintf("%v is outside %s", said, l.text)
}
