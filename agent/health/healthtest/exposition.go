// Package healthtest reads what the health endpoint serves, for tests:
// Parse checks a /metrics body strictly and returns its samples.
package healthtest

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Exposition is a /metrics body parsed by Parse.
type Exposition struct {
	// Families are the metric families, by name.
	Families map[string]*Family
}

// Family is one metric family.
type Family struct {
	// Type is counter, gauge or histogram; Help its # HELP text.
	Type, Help string
	// Samples are its samples, in order.
	Samples []Sample
}

// Sample is one line: its name (the family's, or with _bucket, _sum or
// _count for a histogram), labels and value.
type Sample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// Parse parses the Prometheus text format 0.0.4 as /metrics writes it,
// strictly: every family has one # HELP and one # TYPE before
// its samples, which follow in one block; every sample belongs to the
// family declared last; every name starts with iot_hub_agent_; counters
// end in _total; a series appears once; a histogram's series each have
// buckets with ascending le, cumulative counts, a last le="+Inf" equal to
// _count, and a _sum.
func Parse(text string) (*Exposition, error) {
	e := &Exposition{Families: map[string]*Family{}}
	if text != "" && !strings.HasSuffix(text, "\n") {
		return nil, errors.New("the body does not end with a newline")
	}
	var cur string // the family whose samples may follow
	seen := map[string]bool{}
	for n, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		fail := func(format string, args ...any) error {
			return fmt.Errorf("line %d %q: %s", n+1, line, fmt.Sprintf(format, args...))
		}
		switch {
		case line == "":
			return nil, fail("empty line")
		case strings.HasPrefix(line, "# HELP "):
			name, help, ok := strings.Cut(strings.TrimPrefix(line, "# HELP "), " ")
			if !ok || help == "" {
				return nil, fail("HELP without a text")
			}
			if e.Families[name] != nil {
				return nil, fail("family %s declared twice", name)
			}
			e.Families[name] = &Family{Help: help}
			cur = name
		case strings.HasPrefix(line, "# TYPE "):
			name, typ, _ := strings.Cut(strings.TrimPrefix(line, "# TYPE "), " ")
			f := e.Families[name]
			switch {
			case name != cur || f == nil || f.Type != "" || len(f.Samples) > 0:
				return nil, fail("TYPE of %s not right after its HELP", name)
			case typ != "counter" && typ != "gauge" && typ != "histogram":
				return nil, fail("type %q", typ)
			case !strings.HasPrefix(name, "iot_hub_agent_"):
				return nil, fail("name %s lacks the prefix iot_hub_agent_", name)
			case typ == "counter" && !strings.HasSuffix(name, "_total"):
				return nil, fail("counter %s does not end in _total", name)
			}
			f.Type = typ
		case strings.HasPrefix(line, "#"):
			return nil, fail("a comment the agent does not write")
		default:
			s, err := parseSample(line)
			if err != nil {
				return nil, fail("%v", err)
			}
			f := e.Families[cur]
			if f == nil || f.Type == "" || !belongs(s.Name, cur, f.Type) {
				return nil, fail("sample %s does not belong to the family declared last, %q", s.Name, cur)
			}
			key := seriesKey(s.Name, s.Labels)
			if seen[key] {
				return nil, fail("series %s twice", key)
			}
			seen[key] = true
			f.Samples = append(f.Samples, s)
		}
	}
	for name, f := range e.Families {
		if f.Type == "" {
			return nil, fmt.Errorf("family %s has no TYPE", name)
		}
		if f.Type == "histogram" {
			if err := checkHistogram(name, f); err != nil {
				return nil, err
			}
		}
	}
	return e, nil
}

// belongs reports whether a sample named name belongs to the family fam
// of type typ.
func belongs(name, fam, typ string) bool {
	if typ != "histogram" {
		return name == fam
	}
	return name == fam+"_bucket" || name == fam+"_sum" || name == fam+"_count"
}

// checkHistogram checks the series of a histogram family.
func checkHistogram(name string, f *Family) error {
	type series struct {
		les          []float64
		counts       []float64
		sum, count   float64
		hasSum, hasN bool
	}
	all := map[string]*series{}
	for _, s := range f.Samples {
		labels := map[string]string{}
		for k, v := range s.Labels {
			if k != "le" {
				labels[k] = v
			}
		}
		key := seriesKey(name, labels)
		sr := all[key]
		if sr == nil {
			sr = &series{}
			all[key] = sr
		}
		switch s.Name {
		case name + "_bucket":
			le, ok := s.Labels["le"]
			if !ok {
				return fmt.Errorf("%s: a bucket without le", key)
			}
			v, err := strconv.ParseFloat(le, 64)
			if err != nil {
				return fmt.Errorf("%s: le=%q: %v", key, le, err)
			}
			if n := len(sr.les); n > 0 && (v <= sr.les[n-1] || s.Value < sr.counts[n-1]) {
				return fmt.Errorf("%s: bucket le=%q (%g) after le=%g (%g): want le ascending and counts cumulative", key, le, s.Value, sr.les[n-1], sr.counts[n-1])
			}
			sr.les, sr.counts = append(sr.les, v), append(sr.counts, s.Value)
		case name + "_sum":
			sr.sum, sr.hasSum = s.Value, true
		case name + "_count":
			sr.count, sr.hasN = s.Value, true
		}
	}
	for key, sr := range all {
		n := len(sr.les)
		switch {
		case n == 0 || !math.IsInf(sr.les[n-1], 1):
			return fmt.Errorf("%s: the buckets do not end with le=\"+Inf\"", key)
		case !sr.hasSum || !sr.hasN:
			return fmt.Errorf("%s: no _sum or no _count", key)
		case sr.counts[n-1] != sr.count:
			return fmt.Errorf("%s: le=\"+Inf\" counts %g, _count %g", key, sr.counts[n-1], sr.count)
		}
	}
	return nil
}

// parseSample parses `name{k="v",...} value`.
func parseSample(line string) (Sample, error) {
	s := Sample{Labels: map[string]string{}}
	i := strings.IndexAny(line, "{ ")
	if i <= 0 {
		return s, fmt.Errorf("no name")
	}
	s.Name, line = line[:i], line[i:]
	for _, r := range s.Name {
		if !(r == '_' || r == ':' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return s, fmt.Errorf("name %q: character %q", s.Name, r)
		}
	}
	if strings.HasPrefix(line, "{") {
		line = line[1:]
		for !strings.HasPrefix(line, "}") {
			k, rest, ok := strings.Cut(line, `="`)
			if !ok || k == "" {
				return s, fmt.Errorf("label without =\"")
			}
			var v strings.Builder
			for {
				if rest == "" {
					return s, fmt.Errorf("label %s: no closing quote", k)
				}
				c := rest[0]
				rest = rest[1:]
				if c == '"' {
					break
				}
				if c == '\\' {
					if rest == "" {
						return s, fmt.Errorf("label %s: dangling backslash", k)
					}
					switch rest[0] {
					case '\\', '"':
						v.WriteByte(rest[0])
					case 'n':
						v.WriteByte('\n')
					default:
						return s, fmt.Errorf("label %s: escape \\%c", k, rest[0])
					}
					rest = rest[1:]
					continue
				}
				v.WriteByte(c)
			}
			if _, dup := s.Labels[k]; dup {
				return s, fmt.Errorf("label %s twice", k)
			}
			s.Labels[k] = v.String()
			line = strings.TrimPrefix(rest, ",")
			if line == rest && !strings.HasPrefix(line, "}") {
				return s, fmt.Errorf("labels not separated by commas")
			}
		}
		line = line[1:]
	}
	if !strings.HasPrefix(line, " ") {
		return s, fmt.Errorf("no space before the value")
	}
	v, err := strconv.ParseFloat(line[1:], 64)
	if err != nil {
		return s, fmt.Errorf("value: %v", err)
	}
	s.Value = v
	return s, nil
}

// seriesKey names a series: name{k="v",...}, the labels sorted.
func seriesKey(name string, labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteString(name)
	for i, k := range keys {
		if i == 0 {
			b.WriteByte('{')
		} else {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", k, labels[k])
	}
	if len(keys) > 0 {
		b.WriteByte('}')
	}
	return b.String()
}

// Value returns the value of the sample named name (a family's, or a
// histogram's name_bucket, name_sum or name_count) with exactly labels,
// given as name, value pairs, and whether there is one.
func (e *Exposition) Value(name string, labels ...string) (float64, bool) {
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	key := seriesKey(name, want)
	for _, f := range e.Families {
		for _, s := range f.Samples {
			if seriesKey(s.Name, s.Labels) == key {
				return s.Value, true
			}
		}
	}
	return 0, false
}
