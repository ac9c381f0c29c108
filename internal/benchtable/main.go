// Command benchtable reads `go test -bench -benchmem` output on stdin and
// prints a table: the median of each benchmark over its runs (-count), and
// for every benchmark its time and memory as a ratio of the baselines
// measured in the same run.
//
// A baseline is a sub-benchmark whose last name element starts with
// "baseline-"; it is compared with its siblings: in
// BenchmarkDecode/telemetry-20/{contracts.Decode,baseline-stdjson.Unmarshal}
// the first is reported as a multiple of the second.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// result is the medians of one benchmark.
type result struct {
	group, variant         string
	ns, bytes, allocs      float64
	runs                   int
	nsAll, bAll, allocsAll []float64
}

var line = regexp.MustCompile(`^Benchmark(\S+?)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op(?:.*?\s([\d.]+) B/op)?(?:.*?\s([\d.]+) allocs/op)?`)

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
	for sc.Scan() {
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		name := m[1]
		r, ok := results[name]
		if !ok {
			r = &result{group: name}
			if i := strings.LastIndexByte(name, '/'); i >= 0 {
				r.group, r.variant = name[:i], name[i+1:]
			}
			results[name] = r
			order = append(order, name)
		}
		r.nsAll = append(r.nsAll, parse(m[2]))
		r.bAll = append(r.bAll, parse(m[3]))
		r.allocsAll = append(r.allocsAll, parse(m[4]))
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if len(order) == 0 {
		return fmt.Errorf("no benchmark results on stdin")
	}
	for _, r := range results {
		r.ns, r.bytes, r.allocs, r.runs = median(r.nsAll), median(r.bAll), median(r.allocsAll), len(r.nsAll)
	}

	tw := tabwriter.NewWriter(out, 0, 0, 1, ' ', tabwriter.Debug)
	fmt.Fprintln(tw, "benchmark\tvariant\truns\tns/op\tB/op\tallocs/op\ttime vs baseline\tmemory vs baseline\t")
	for _, name := range order {
		r := results[name]
		var times, mems []string
		if !strings.HasPrefix(r.variant, "baseline-") {
			for _, bn := range order {
				b := results[bn]
				if b.group != r.group || !strings.HasPrefix(b.variant, "baseline-") {
					continue
				}
				label := strings.TrimPrefix(b.variant, "baseline-")
				times = append(times, fmt.Sprintf("%.2fx %s", r.ns/b.ns, label))
				if b.bytes > 0 {
					mems = append(mems, fmt.Sprintf("%.2fx %s", r.bytes/b.bytes, label))
				}
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.0f\t%.0f\t%.0f\t%s\t%s\t\n", r.group, r.variant, r.runs, r.ns, r.bytes, r.allocs,
			strings.Join(times, ", "), strings.Join(mems, ", "))
	}
	return tw.Flush()
}

func parse(s string) float64 {
	v, _ := strconv.ParseFloat(s, 64) // the regexp admits only numbers or ""
	return v
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
