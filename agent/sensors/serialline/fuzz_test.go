package serialline

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"unicode"

	"github.com/iot-hub/agent/agent/sensors"
)

// decoded is what a stream of bytes decodes into.
type decoded struct {
	records [][]sensors.Reading
	skips   Skips
}

// decodeStream splits data, fed in chunks of size n, and decodes its
// lines as format.
func decodeStream(t *testing.T, format string, data []byte, n int) decoded {
	var d decoded
	s := &splitter{max: 64}
	line := func(l []byte) {
		if len(l) == 0 || len(l) > s.max || strings.ContainsAny(string(l), "\r\n") {
			t.Fatalf("splitter gave line %q", l)
		}
		rs, why := decode(format, l, units)
		switch {
		case why != 0 && rs != nil:
			t.Fatalf("decode(%q) = %v, %v: readings from a skipped line", l, rs, why)
		case why == 0 && len(rs) == 0:
			t.Fatalf("decode(%q) gave no reading and no reason", l)
		case why != 0:
			d.skips.add(why)
			return
		}
		seen := map[string]bool{}
		for _, r := range rs {
			if math.IsNaN(r.Value) || math.IsInf(r.Value, 0) || r.Metric == "" ||
				strings.ContainsFunc(r.Metric, unicode.IsControl) || seen[r.Metric] || r.Unit != units[r.Metric] {
				t.Fatalf("decode(%q) gave reading %+v", l, r)
			}
			seen[r.Metric] = true
		}
		d.records = append(d.records, rs)
	}
	for len(data) > 0 {
		c := data[:min(n, len(data))]
		data = data[len(c):]
		s.feed(c, line, d.skips.add)
	}
	return d
}

func FuzzDecode(f *testing.F) {
	f.Add(true, []byte("{\"t\":21.5,\"h\":40,\"ok\":true}\r\n"))
	f.Add(false, []byte("t=21.5 h=40;p=1013\n"))
	f.Fuzz(func(t *testing.T, json bool, data []byte) {
		format := FormatKV
		if json {
			format = FormatJSON
		}
		whole := decodeStream(t, format, data, len(data)+1)
		bytewise := decodeStream(t, format, data, 1)
		if !reflect.DeepEqual(whole, bytewise) {
			t.Fatalf("%q decodes as %+v at once but %+v byte by byte", data, whole, bytewise)
		}
	})
}
