package main

import (
	"strings"
	"testing"
)

const sample = `goos: linux
BenchmarkDecode/cmd/contracts.Decode-2         	    2000	      8000 ns/op	  42.37 MB/s	     400 B/op	       7 allocs/op
BenchmarkDecode/cmd/contracts.Decode-2         	    2000	      9000 ns/op	  42.37 MB/s	     400 B/op	       7 allocs/op
BenchmarkDecode/cmd/contracts.Decode-2         	    2000	     30000 ns/op	  42.37 MB/s	     400 B/op	       7 allocs/op
BenchmarkDecode/cmd/baseline-std.Unmarshal-2   	    2000	     10000 ns/op	  32.32 MB/s	     800 B/op	      18 allocs/op
BenchmarkDecode/cmd/baseline-v2.Unmarshal-2    	    2000	      4500 ns/op	     200 B/op	       2 allocs/op
PASS
`

func TestRunPrintsMediansAndRatios(t *testing.T) {
	var out strings.Builder
	if err := run(strings.NewReader(sample), &out); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	// The median of 8000, 9000 and 30000 is 9000: 0.90x of 10000 and 2.00x
	// of 4500; memory 400 is 0.50x of 800 and 2.00x of 200.
	for _, want := range []string{"Decode/cmd", "|9000 ", "0.90x std.Unmarshal, 2.00x v2.Unmarshal", "0.50x std.Unmarshal, 2.00x v2.Unmarshal", "|3    |"} {
		if !strings.Contains(got, want) {
			t.Errorf("run(sample) output lacks %q:\n%s", want, got)
		}
	}
}

func TestRunRefusesEmptyInput(t *testing.T) {
	if err := run(strings.NewReader("PASS\n"), &strings.Builder{}); err == nil {
		t.Error("run(no results) = nil; want an error")
	}
}
