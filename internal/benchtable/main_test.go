package main

import (
	"slices"
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
	// MB/s is a metric of the second table; v2.Unmarshal did not report
	// it, so it is compared with std.Unmarshal only: 42.37/32.32 = 1.31.
	if !strings.Contains(got, "|MB/s   |42.37 |1.31x std.Unmarshal |") {
		t.Errorf("run(sample) output lacks the MB/s row:\n%s", got)
	}
}

// customSample is output with metrics added by b.ReportMetric, one of the
// heavy benchmarks run once with ns/op suppressed, and lines to skip.
const customSample = `goos: linux
BenchmarkAppend
    bench_test.go:300: on ext4
BenchmarkAppend/concurrent-64/outbox-2   	   48774	     23771 ns/op	        31.21 commits/1000rec	        62.41 fsyncs/1000rec	     42000 records/s	  1200 B/op	 12 allocs/op
BenchmarkAppend/concurrent-64/outbox-2   	   48774	     23771 ns/op	        31.00 commits/1000rec	        62.00 fsyncs/1000rec	     40000 records/s	  1200 B/op	 12 allocs/op
BenchmarkAppend/concurrent-64/outbox-2   	   48774	     23771 ns/op	        32.00 commits/1000rec	        64.00 fsyncs/1000rec	     50000 records/s	  1200 B/op	 12 allocs/op
BenchmarkAppend/concurrent-64/baseline-bolt.Update-per-record-2	    2320	    451106 ns/op	      1000 commits/1000rec	      2000 fsyncs/1000rec	      2000 records/s	  600 B/op	 6 allocs/op
--- BENCH: BenchmarkAppend/concurrent-64/outbox-2
BenchmarkMemory/backlog/baseline-10k-records-2    	       1	         5.633 RssAnon-MiB
BenchmarkMemory/backlog/1M-records-2              	       1	         7.133 RssAnon-MiB	         1.500 growth-MiB
BenchmarkTrickle/10rec-per-s-3s/outbox-2 	1	 0.0001 commits/s
ok  	github.com/iot-hub/agent/agent/outbox	5.022s
`

func TestRunShowsCustomMetricsAndTheirRatios(t *testing.T) {
	var out strings.Builder
	if err := run(strings.NewReader(customSample), &out); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	rows := cells(got)
	for _, want := range [][]string{
		// The first table as before: 23771/451106 = 0.053, 1200/600 = 2.
		{"Append/concurrent-64", "outbox", "3", "23771", "1200", "12", "0.053x bolt.Update-per-record", "2.00x bolt.Update-per-record"},
		// The metrics: the median of 40000, 42000 and 50000 is 42000,
		// 21 times 2000.
		{"Append/concurrent-64", "outbox", "records/s", "42000", "21.0x bolt.Update-per-record"},
		{"Append/concurrent-64", "outbox", "commits/1000rec", "31.21", "0.031x bolt.Update-per-record"},
		{"Append/concurrent-64", "outbox", "fsyncs/1000rec", "62.41", "0.031x bolt.Update-per-record"},
		{"Append/concurrent-64", "baseline-bolt.Update-per-record", "records/s", "2000", ""},
		// ns/op not reported: "-" and no ratio.
		{"Memory/backlog", "1M-records", "1", "-", "-", "-", "", ""},
		{"Memory/backlog", "1M-records", "RssAnon-MiB", "7.13", "1.27x 10k-records"},
		// No baseline has the metric: no ratio.
		{"Memory/backlog", "1M-records", "growth-MiB", "1.50", ""},
		{"Trickle/10rec-per-s-3s", "outbox", "commits/s", "0.0001", ""},
	} {
		if !slices.ContainsFunc(rows, func(r []string) bool { return slices.Equal(r, want) }) {
			t.Errorf("run(customSample) output lacks the row %q:\n%s", want, got)
		}
	}
	for _, unwanted := range []string{"BENCH", "bench_test.go", "5.022s", "goos"} {
		if strings.Contains(got, unwanted) {
			t.Errorf("run(customSample) output has %q from a line that is not a result:\n%s", unwanted, got)
		}
	}
}

// cells splits a printed table into rows of trimmed cells.
func cells(table string) [][]string {
	var rows [][]string
	for line := range strings.Lines(table) {
		f := strings.Split(strings.TrimSuffix(line, "\n"), "|")
		if len(f) < 2 {
			continue
		}
		f = f[:len(f)-1] // after the last |
		for i := range f {
			f[i] = strings.TrimSpace(f[i])
		}
		rows = append(rows, f)
	}
	return rows
}

func TestRunWithoutCustomMetricsPrintsOneTable(t *testing.T) {
	var out strings.Builder
	in := "BenchmarkX/a-2 10 100 ns/op\nBenchmarkX/baseline-b-2 10 50 ns/op\n"
	if err := run(strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	if strings.Contains(got, "metric") || !strings.Contains(got, "2.00x b") {
		t.Errorf("run(%q) =\n%s\nwant one table with 2.00x b", in, got)
	}
}

func TestParseLine(t *testing.T) {
	for _, tc := range []struct {
		line  string
		name  string
		units string
	}{
		{"BenchmarkA/b-c/d-16  \t 12 \t 3.5 ns/op \t 7 x/s", "A/b-c/d", "ns/op x/s"},
		{"BenchmarkA 1 2 B/op", "A", "B/op"},
		{"BenchmarkA/concurrent-64/outbox-2 1 -0.5 growth-MiB", "A/concurrent-64/outbox", "growth-MiB"},
		{"BenchmarkA-2", "", ""},               // name only (-v)
		{"BenchmarkA-2 --- FAIL: x y", "", ""}, // not a count
		{"Benchmark 1 2 ns/op", "", ""},        // no name
		{"--- BENCH: BenchmarkA-2 1 2 ns/op", "", ""},
		{"BenchmarkA-2 10 junk ns/op", "", ""}, // no number
	} {
		name, pairs, ok := parseLine(tc.line)
		var units []string
		for _, p := range pairs {
			units = append(units, p.unit)
		}
		if name != tc.name || strings.Join(units, " ") != tc.units || ok != (tc.name != "") {
			t.Errorf("parseLine(%q) = %q, %v, %v; want %q, %q", tc.line, name, units, ok, tc.name, tc.units)
		}
	}
}

func TestFormat(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{formatRatio(38.2), "38.2x"},
		{formatRatio(2), "2.00x"},
		{formatRatio(0.5), "0.50x"},
		{formatRatio(0.0031), "0.0031x"},
		{formatRatio(0.0527), "0.053x"},
		{formatRatio(1250), "1250x"},
		{formatRatio(0), "0.00x"},
		{formatValue(42068.4), "42068"},
		{formatValue(312.54), "312.5"},
		{formatValue(31.214), "31.21"},
		{formatValue(4.4731), "4.47"},
		{formatValue(0.125), "0.1250"},
		{formatValue(2), "2"},
		{formatValue(0.00012), "0.00012"},
		{formatValue(-0.1797), "-0.1797"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q; want %q", tc.got, tc.want)
		}
	}
}

func TestRunRefusesEmptyInput(t *testing.T) {
	if err := run(strings.NewReader("PASS\n"), &strings.Builder{}); err == nil {
		t.Error("run(no results) = nil; want an error")
	}
}
