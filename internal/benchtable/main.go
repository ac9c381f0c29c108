// Command benchtable reads `go test -bench -benchmem` output on stdin and
// prints a table: the median of each benchmark over its runs (-count), and
// for every benchmark its time and memory as a ratio of the baselines
// measured in the same run.
//
// A baseline is a sub-benchmark whose last name element starts with
// "baseline-"; it is compared with its siblings: in
// BenchmarkDecode/telemetry-20/{contracts.Decode,baseline-stdjson.Unmarshal}
// the first is reported as a multiple of the second.
//
// Every other metric on a result line (MB/s, and whatever b.ReportMetric
// added: records/s, fsyncs/1000rec, ...) gets a row of a second table,
// with its median and its ratio to the same metric of each baseline
// sibling. Every ratio is this benchmark's value divided by the
// baseline's, so for a rate such as records/s 38.2x means 38.2 times as
// fast, and for a time or a cost such as ns/op 0.05x means a twentieth.
package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// The units of the first table's columns; every other unit is a metric
// of the second table.
const (
	unitNs     = "ns/op"
	unitBytes  = "B/op"
	unitAllocs = "allocs/op"
)

// result is one benchmark: its values over its runs, by unit.
type result struct {
	group, variant string
	runs           int
	values         map[string][]float64
	units          []string // in the order they first appeared
}

// median is the median of the benchmark's values of unit, and whether it
// reported that unit at all.
func (r *result) median(unit string) (float64, bool) {
	xs := r.values[unit]
	if len(xs) == 0 {
		return 0, false
	}
	return median(xs), true
}

func (r *result) isBaseline() bool { return strings.HasPrefix(r.variant, "baseline-") }

// procs is the -GOMAXPROCS suffix that go test adds to a benchmark name.
var procs = regexp.MustCompile(`-\d+$`)

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer) error {
	var order []string
	results := map[string]*result{}
	sc := bufio.NewScanner(in)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		name, pairs, ok := parseLine(sc.Text())
		if !ok {
			continue
		}
		r, seen := results[name]
		if !seen {
			r = &result{group: name, values: map[string][]float64{}}
			if i := strings.LastIndexByte(name, '/'); i >= 0 {
				r.group, r.variant = name[:i], name[i+1:]
			}
			results[name] = r
			order = append(order, name)
		}
		r.runs++
		for _, p := range pairs {
			if _, known := r.values[p.unit]; !known {
				r.units = append(r.units, p.unit)
			}
			r.values[p.unit] = append(r.values[p.unit], p.value)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if len(order) == 0 {
		return fmt.Errorf("no benchmark results on stdin")
	}
	ordered := make([]*result, len(order))
	for i, name := range order {
		ordered[i] = results[name]
	}

	tw := tabwriter.NewWriter(out, 0, 0, 1, ' ', tabwriter.Debug)
	fmt.Fprintln(tw, "benchmark\tvariant\truns\tns/op\tB/op\tallocs/op\ttime vs baseline\tmemory vs baseline\t")
	for _, r := range ordered {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t\n", r.group, r.variant, r.runs,
			cell(r, unitNs), cell(r, unitBytes), cell(r, unitAllocs),
			ratios(r, ordered, unitNs), ratios(r, ordered, unitBytes))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	header := false
	for _, r := range ordered {
		for _, unit := range r.units {
			if unit == unitNs || unit == unitBytes || unit == unitAllocs {
				continue
			}
			if !header {
				fmt.Fprintln(tw)
				fmt.Fprintln(tw, "benchmark\tvariant\tmetric\tvalue\tvs baseline\t")
				header = true
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", r.group, r.variant, unit, cell(r, unit), ratios(r, ordered, unit))
		}
	}
	return tw.Flush()
}

// pair is one "value unit" of a result line.
type pair struct {
	value float64
	unit  string
}

// parseLine parses a result line,
//
//	BenchmarkName-8   1000   1234 ns/op   52.1 records/s   16 B/op
//
// into the name without "Benchmark" and the -GOMAXPROCS suffix, and its
// "value unit" pairs. It reports false for any other line.
func parseLine(s string) (string, []pair, bool) {
	f := strings.Fields(s)
	if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f[0]) == len("Benchmark") {
		return "", nil, false
	}
	if _, err := strconv.ParseUint(f[1], 10, 64); err != nil {
		return "", nil, false
	}
	var pairs []pair
	for i := 2; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			break
		}
		pairs = append(pairs, pair{v, f[i+1]})
	}
	if len(pairs) == 0 {
		return "", nil, false
	}
	return procs.ReplaceAllString(strings.TrimPrefix(f[0], "Benchmark"), ""), pairs, true
}

// cell is the median of unit for r, or "-" when r does not report it.
func cell(r *result, unit string) string {
	v, ok := r.median(unit)
	if !ok {
		return "-"
	}
	if unit == unitNs || unit == unitBytes || unit == unitAllocs {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return formatValue(v)
}

// ratios lists the median of unit for r as a multiple of the same metric
// of each baseline sibling of r, as "2.00x name" joined by commas; it is
// empty for a baseline and where a baseline's value is 0 or missing.
func ratios(r *result, all []*result, unit string) string {
	if r.isBaseline() {
		return ""
	}
	v, ok := r.median(unit)
	if !ok {
		return ""
	}
	var out []string
	for _, b := range all {
		if b.group != r.group || !b.isBaseline() {
			continue
		}
		bv, ok := b.median(unit)
		if !ok || bv == 0 {
			continue
		}
		out = append(out, formatRatio(v/bv)+" "+strings.TrimPrefix(b.variant, "baseline-"))
	}
	return strings.Join(out, ", ")
}

// formatRatio shows a ratio with two significant digits or more: 38.2x,
// 2.00x, 0.50x, 0.053x, 0.0031x, 1250x.
func formatRatio(x float64) string {
	a := math.Abs(x)
	switch {
	case a >= 100:
		return strconv.FormatFloat(x, 'f', 0, 64) + "x"
	case a >= 10:
		return strconv.FormatFloat(x, 'f', 1, 64) + "x"
	case a >= 0.1 || a == 0:
		return strconv.FormatFloat(x, 'f', 2, 64) + "x"
	}
	return strconv.FormatFloat(x, 'g', 2, 64) + "x"
}

// formatValue shows a metric with about four significant digits and no
// exponent for the usual magnitudes: 42068, 312.5, 31.21, 4.473, 0.1250.
func formatValue(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1000 || v == math.Trunc(v) && a < 1e15:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	case a >= 0.001:
		return strconv.FormatFloat(v, 'f', 4, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
