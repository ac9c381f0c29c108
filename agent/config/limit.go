package config

import (
	"fmt"
	"reflect"
	"strings"
	"time"
)

// limit is the range of a duration or size key, from the limit tag of its
// field: `limit:"MIN..MAX"`. MIN is a duration or a size; MAX is one too,
// or empty when there is no upper bound, or the key of another field of
// the same mapping ("1ms..interval"), which Validate compares it with.
//
// The decoder checks every value it reads against its key's limit. A
// key left out of the file is not read, and takes its default; a key
// written as 0 is read, and refused unless MIN is 0s or 0B: there, 0 is
// a value of its own, which the key's doc states. So 0 never stands for
// "the default" in the file, though it does in the Go structs.
type limit struct {
	text     string // the tag, for messages
	min, max int64
	hasMax   bool // max is a value: not another key, not unbounded
}

// parseLimit parses tag, the limit tag of a field of type t, a
// time.Duration or a Size, among the keys of its struct.
func parseLimit(tag string, t reflect.Type, keys map[string]field) (*limit, error) {
	parse := func(s string) (int64, error) {
		switch t {
		case durationType:
			d, err := time.ParseDuration(s)
			return int64(d), err
		case sizeType:
			n, err := ParseSize(s)
			return int64(n), err
		}
		return 0, fmt.Errorf("a limit on a %v, not a duration or size", t)
	}
	minText, maxText, ok := strings.Cut(tag, "..")
	if !ok {
		return nil, fmt.Errorf("limit %q is not MIN..MAX", tag)
	}
	l := &limit{text: tag}
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

// check returns what is wrong with v, a value of the limit's field, or
// "" when it is within the limit.
func (l *limit) check(v reflect.Value) string {
	n := v.Int()
	minText, maxText, _ := strings.Cut(l.text, "..")
	switch {
	case n >= l.min && (!l.hasMax || n <= l.max):
		return ""
	case maxText == "":
		return fmt.Sprintf("%v is below %s", v.Interface(), minText)
	}
	return fmt.Sprintf("%v is outside %s", v.Interface(), l.text)
}
