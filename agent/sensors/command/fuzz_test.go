package command

import (
	"math"
	"testing"
)

// FuzzParseOutput: whatever a program prints, its readings are finite,
// named, and each metric once; or it is an error.
func FuzzParseOutput(f *testing.F) {
	f.Add(true, []byte("{\n  \"t\": 21.5,\r\n  \"pump\": true\n}\n"))
	f.Add(false, []byte("t=-4\nlevel=0.82\n"))
	f.Add(false, []byte("t=1 \xff\n"))
	f.Fuzz(func(t *testing.T, json bool, out []byte) {
		format := "kv"
		if json {
			format = "json"
		}
		rs, err := parseOutput(format, out, nil)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, r := range rs {
			if r.Metric == "" || seen[r.Metric] || math.IsNaN(r.Value) || math.IsInf(r.Value, 0) {
				t.Fatalf("parseOutput(%q) gave %+v", out, r)
			}
			seen[r.Metric] = true
		}
	})
}
