package broker

import (
	"fmt"
	"strings"
)

// checkFilter reports an MQTT topic filter that is not one (MQTT v5
// §4.7): empty, or with a wildcard that is not a whole level, or a # not
// last.
func checkFilter(f string) error {
	if f == "" {
		return fmt.Errorf("an empty filter")
	}
	levels := strings.Split(f, "/")
	for i, l := range levels {
		switch {
		case strings.Contains(l, "#") && (l != "#" || i != len(levels)-1):
			return fmt.Errorf("# must be a whole level, and the last")
		case strings.Contains(l, "+") && l != "+":
			return fmt.Errorf("+ must be a whole level")
		}
	}
	return nil
}

// within reports whether topic (or a subscription's filter) lies within
// filter, a wildcard of topic matching only the same wildcard or # in
// filter.
func within(topic, filter string) bool {
	t, f := strings.Split(topic, "/"), strings.Split(filter, "/")
	for i, fl := range f {
		switch {
		case fl == "#":
			return true
		case i >= len(t):
			return false
		case t[i] == "#":
			return false // asks for more than the filter gives
		case fl == "+":
			continue
		case t[i] != fl:
			return false
		}
	}
	return len(t) == len(f)
}

// overlap reports whether some topic lies within both filters a and b.
func overlap(a, b string) bool {
	x, y := strings.Split(a, "/"), strings.Split(b, "/")
	for i := 0; ; i++ {
		switch {
		case i < len(x) && x[i] == "#", i < len(y) && y[i] == "#":
			return true // # matches the parent level too: "a/#" matches "a"
		case i == len(x) || i == len(y):
			return len(x) == len(y)
		case x[i] != "+" && y[i] != "+" && x[i] != y[i]:
			return false
		}
	}
}
