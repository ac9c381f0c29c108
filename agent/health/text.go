package health

import (
	"strconv"
	"strings"
)

// ContentType is the media type of /metrics: the Prometheus text
// exposition format, version 0.0.4.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Metric types of the text format.
const (
	typeCounter   = "counter"
	typeGauge     = "gauge"
	typeHistogram = "histogram"
)

// textWriter appends the Prometheus text exposition format to b: a family
// is its # HELP and # TYPE lines, then its samples, one per line.
type textWriter struct {
	b []byte
}

// family declares a metric family.
func (w *textWriter) family(name, typ, help string) {
	w.b = append(w.b, "# HELP "...)
	w.b = append(w.b, name...)
	w.b = append(w.b, ' ')
	w.b = append(w.b, helpEscaper.Replace(help)...)
	w.b = append(w.b, "\n# TYPE "...)
	w.b = append(w.b, name...)
	w.b = append(w.b, ' ')
	w.b = append(w.b, typ...)
	w.b = append(w.b, '\n')
}

// gauge writes a sample of name with labels, given as name, value pairs.
func (w *textWriter) gauge(name string, v float64, labels ...string) {
	w.series(name, labels)
	w.b = strconv.AppendFloat(w.b, v, 'g', -1, 64)
	w.b = append(w.b, '\n')
}

// count writes a sample of a whole number.
func (w *textWriter) count(name string, n uint64, labels ...string) {
	w.series(name, labels)
	w.b = strconv.AppendUint(w.b, n, 10)
	w.b = append(w.b, '\n')
}

// histogram writes the samples of h: name_bucket per bound, cumulative,
// ending with le="+Inf", then name_sum and name_count.
func (w *textWriter) histogram(name string, h *histogram, labels ...string) {
	counts, sum := h.snapshot()
	le := append(labels[:len(labels):len(labels)], "le", "")
	for i, n := range counts {
		if i < len(h.bounds) {
			le[len(le)-1] = strconv.FormatFloat(h.bounds[i].Seconds(), 'g', -1, 64)
		} else {
			le[len(le)-1] = "+Inf"
		}
		w.count(name+"_bucket", n, le...)
	}
	w.gauge(name+"_sum", sum, labels...)
	w.count(name+"_count", counts[len(counts)-1], labels...)
}

// series writes name, its labels in braces when it has some, and the
// space before the value.
func (w *textWriter) series(name string, labels []string) {
	w.b = append(w.b, name...)
	if len(labels) > 0 {
		w.b = append(w.b, '{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				w.b = append(w.b, ',')
			}
			w.b = append(w.b, labels[i]...)
			w.b = append(w.b, `="`...)
			w.b = append(w.b, labelEscaper.Replace(labels[i+1])...)
			w.b = append(w.b, '"')
		}
		w.b = append(w.b, '}')
	}
	w.b = append(w.b, ' ')
}

// Escapes of the text format: in HELP, backslash and newline; in label
// values, the double quote too.
var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)
