package serialline

import (
	"fmt"
	"strings"
)

// Reason is why a line was skipped.
type Reason int

// Reasons.
const (
	// Partial: the line may be cut: the first line after the port opened
	// (it may have begun before), or the part received before the port
	// was lost.
	Partial Reason = iota + 1
	// Oversize: longer than Settings.MaxLineBytes.
	Oversize
	// Garbage: not UTF-8, or with control characters (line noise, a wrong
	// baud rate).
	Garbage
	// Malformed: in format "json", not one JSON object.
	Malformed
	// NoValue: no numeric (or, in JSON, boolean) value.
	NoValue
)

// String returns the reason's name as [Skips.String] uses it.
func (r Reason) String() string {
	switch r {
	case Partial:
		return "partial"
	case Oversize:
		return "oversize"
	case Garbage:
		return "garbage"
	case Malformed:
		return "malformed"
	case NoValue:
		return "no value"
	}
	return fmt.Sprintf("Reason(%d)", int(r))
}

// Skips counts skipped lines by [Reason].
type Skips struct {
	Partial, Oversize, Garbage, Malformed, NoValue uint64
}

// add counts one line skipped for r.
func (s *Skips) add(r Reason) {
	switch r {
	case Partial:
		s.Partial++
	case Oversize:
		s.Oversize++
	case Garbage:
		s.Garbage++
	case Malformed:
		s.Malformed++
	case NoValue:
		s.NoValue++
	}
}

// sub returns s less o, field by field.
func (s Skips) sub(o Skips) Skips {
	return Skips{s.Partial - o.Partial, s.Oversize - o.Oversize, s.Garbage - o.Garbage, s.Malformed - o.Malformed, s.NoValue - o.NoValue}
}

// Total is the number of lines skipped.
func (s Skips) Total() uint64 {
	return s.Partial + s.Oversize + s.Garbage + s.Malformed + s.NoValue
}

// String reads "2 partial, 1 garbage", or "none".
func (s Skips) String() string {
	var parts []string
	for _, c := range []struct {
		n uint64
		r Reason
	}{{s.Partial, Partial}, {s.Oversize, Oversize}, {s.Garbage, Garbage}, {s.Malformed, Malformed}, {s.NoValue, NoValue}} {
		if c.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %v", c.n, c.r))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
