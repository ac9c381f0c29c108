package serialline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/iot-hub/agent/agent/sensors"
)

// Formats of the lines.
const (
	// FormatJSON: each line is a flat JSON object; each numeric member is
	// a reading named after it, booleans read as 1 and 0, other members
	// (strings, null, arrays, objects) are ignored.
	FormatJSON = "json"
	// FormatKV: each line is key=value pairs separated by spaces, tabs,
	// commas or semicolons; pairs whose value is not a finite number are
	// ignored.
	FormatKV = "kv"
)

// decode turns one line (without its end) of format into readings, with
// units from units; or it returns why the line is skipped and no
// reading. Every value returned is finite and every metric non-empty,
// without control characters, and unique in the record (a later member
// with the same name replaces the value of the earlier one).
func decode(format string, line []byte, units map[string]string) ([]sensors.Reading, Reason) {
	if !utf8.Valid(line) || bytes.ContainsFunc(line, isControl) {
		return nil, Garbage
	}
	var rs []sensors.Reading
	add := func(metric string, v float64) {
		if metric == "" || strings.ContainsFunc(metric, unicode.IsControl) || math.IsInf(v, 0) || math.IsNaN(v) {
			return
		}
		for i := range rs {
			if rs[i].Metric == metric {
				rs[i].Value = v
				return
			}
		}
		rs = append(rs, sensors.Reading{Metric: metric, Value: v, Unit: units[metric]})
	}
	switch format {
	case FormatJSON:
		if !decodeJSON(line, add) {
			return nil, Malformed
		}
	default:
		decodeKV(line, add)
	}
	if len(rs) == 0 {
		return nil, NoValue
	}
	return rs, 0
}

// isControl reports control characters other than tab.
func isControl(r rune) bool { return r != '\t' && unicode.IsControl(r) }

// decodeJSON calls add with the numeric and boolean members of line, a
// JSON object; it reports whether line is one.
func decodeJSON(line []byte, add func(string, float64)) bool {
	dec := json.NewDecoder(bytes.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return false
	}
	type member struct {
		name string
		v    float64
	}
	var ms []member // added only once the whole line is known good
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		name := tok.(string) // a key: Token checks the syntax
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return false
		}
		switch raw[0] {
		case 't':
			ms = append(ms, member{name, 1})
		case 'f':
			ms = append(ms, member{name, 0})
		case '"', 'n', '[', '{':
		default:
			if v, err := strconv.ParseFloat(string(raw), 64); err == nil {
				ms = append(ms, member{name, v})
			} // out of range: not a finite value
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return false
	}
	if _, err := dec.Token(); err != io.EOF {
		return false // more after the object
	}
	for _, m := range ms {
		add(m.name, m.v)
	}
	return true
}

// decodeKV calls add with the key=number pairs of line.
func decodeKV(line []byte, add func(string, float64)) {
	for f := range strings.FieldsFuncSeq(string(line), isSeparator) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			continue
		}
		if x, err := strconv.ParseFloat(v, 64); err == nil {
			add(k, x)
		}
	}
}

// isSeparator reports the separators of kv pairs.
func isSeparator(r rune) bool { return r == ' ' || r == '\t' || r == ',' || r == ';' }

// DecodeRecord decodes one record of format (FormatJSON or FormatKV), as
// a line of a serial-line device, into readings with units from units;
// the command driver decodes a command's output with it. A record that
// gives no reading is an error that says why: garbage, malformed or no
// value.
func DecodeRecord(format string, record []byte, units map[string]string) ([]sensors.Reading, error) {
	rs, why := decode(format, record, units)
	if why != 0 {
		return nil, fmt.Errorf("no reading: %s", why)
	}
	return rs, nil
}
