package confkeys

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Size is a number of bytes. In the file it is a plain number of bytes or
// a number with one of the binary units KiB, MiB, GiB ("64MiB",
// "1.5GiB"); it is printed in the largest unit that divides it.
type Size int64

// Size units.
const (
	KiB Size = 1 << 10
	MiB Size = 1 << 20
	GiB Size = 1 << 30
)

var sizeUnits = []struct {
	name string
	size Size
}{{"GiB", GiB}, {"MiB", MiB}, {"KiB", KiB}, {"B", 1}}

// ParseSize parses "65536", "512KiB", "64MiB" or "1.5GiB". Units are
// binary and case-sensitive; decimal ones (MB) are refused, as they would
// be read as binary by some and decimal by others.
func ParseSize(s string) (Size, error) {
	t := strings.TrimSpace(s)
	num, mult := t, Size(1)
	for _, u := range sizeUnits {
		if rest, ok := strings.CutSuffix(t, u.name); ok {
			num, mult = strings.TrimSpace(rest), u.size
			break
		}
	}
	if n, err := strconv.ParseInt(num, 10, 64); err == nil {
		if n < 0 || n > math.MaxInt64/int64(mult) {
			return 0, fmt.Errorf("size %q is out of range", s)
		}
		return Size(n) * mult, nil
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || mult == 1 || f < 0 || f*float64(mult) >= math.MaxInt64 || math.IsNaN(f) {
		return 0, fmt.Errorf("invalid size %q: want bytes or a number with KiB, MiB or GiB, such as 64MiB", s)
	}
	return Size(f * float64(mult)), nil
}

// String writes s in the largest unit that divides it: "64MiB", "1000B".
func (s Size) String() string {
	for _, u := range sizeUnits {
		if s != 0 && s%u.size == 0 {
			return strconv.FormatInt(int64(s/u.size), 10) + u.name
		}
	}
	return strconv.FormatInt(int64(s), 10) + "B"
}

// UnmarshalText parses text as ParseSize does.
func (s *Size) UnmarshalText(text []byte) error {
	v, err := ParseSize(string(text))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// MarshalYAML writes s as its String.
func (s Size) MarshalYAML() (any, error) { return s.String(), nil }
