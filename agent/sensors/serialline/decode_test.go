package serialline

import (
	"reflect"
	"testing"

	"github.com/iot-hub/agent/agent/sensors"
)

var units = map[string]string{"t": "Cel", "h": "%"}

func TestDecode(t *testing.T) {
	r := func(m string, v float64) sensors.Reading { return sensors.Reading{Metric: m, Value: v, Unit: units[m]} }
	tests := []struct {
		format, line string
		want         []sensors.Reading
		why          Reason
	}{
		{FormatJSON, `{"t":21.5,"h":40,"ok":true,"off":false,"fw":"1.2","n":null,"a":[1],"o":{"x":1}}`,
			[]sensors.Reading{r("t", 21.5), r("h", 40), r("ok", 1), r("off", 0)}, 0},
		{FormatJSON, ` { "t" : -1e-3 , "t" : 2 } `, []sensors.Reading{r("t", 2)}, 0},
		{FormatJSON, `{"big":1e400,"t":1}`, []sensors.Reading{r("t", 1)}, 0},
		{FormatJSON, `{"":1,"\u0000x":2,"ok":3}`, []sensors.Reading{r("ok", 3)}, 0},
		{FormatJSON, `{"fw":"1.2","n":null}`, nil, NoValue},
		{FormatJSON, `{}`, nil, NoValue},
		{FormatJSON, `{"t":21.5`, nil, Malformed},
		{FormatJSON, `{"t":21.5}}`, nil, Malformed},
		{FormatJSON, `{"t":21.5} {"h":1}`, nil, Malformed},
		{FormatJSON, `[1,2]`, nil, Malformed},
		{FormatJSON, `21.5`, nil, Malformed},
		{FormatJSON, `{"t":NaN}`, nil, Malformed},
		{FormatJSON, `{t:1}`, nil, Malformed},
		{FormatJSON, "{\"t\":\xff1}", nil, Garbage},
		{FormatJSON, "{\"t\":1}\x00", nil, Garbage},
		{FormatKV, "t=21.5 h=40,p=1013.25;q=-2\tz=0x1p-2", []sensors.Reading{r("t", 21.5), r("h", 40), r("p", 1013.25), r("q", -2), r("z", 0.25)}, 0},
		{FormatKV, "t=21.5;; ,ok=yes x=NaN y=inf w=1e999 =3 s=1=2 t=22", []sensors.Reading{r("t", 22)}, 0},
		{FormatKV, "hello world", nil, NoValue},
		{FormatKV, "t = 21.5", nil, NoValue},
		{FormatKV, "t=1\x13", nil, Garbage},
		{FormatKV, "t=\xc3\x28", nil, Garbage},
		{FormatKV, "température=21.5", []sensors.Reading{r("température", 21.5)}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.format+" "+tt.line, func(t *testing.T) {
			got, why := decode(tt.format, []byte(tt.line), units)
			if !reflect.DeepEqual(got, tt.want) || why != tt.why {
				t.Errorf("decode(%q) = %v, %v; want %v, %v", tt.line, got, why, tt.want, tt.why)
			}
		})
	}
}

func TestSplitter(t *testing.T) {
	type result struct {
		lines []string
		skips Skips
	}
	run := func(s *splitter, res *result, chunks ...string) {
		for _, c := range chunks {
			s.feed([]byte(c), func(l []byte) { res.lines = append(res.lines, string(l)) }, res.skips.add)
		}
	}
	tests := []struct {
		name   string
		chunks []string
		resync bool
		want   result
	}{
		{"endings", []string{"a\r\nb\nc\rd\n\n\r\r\n"}, false, result{lines: []string{"a", "b", "c", "d"}}},
		{"split anywhere", []string{"ab", "c\r", "\nd", "e\n"}, false, result{lines: []string{"abc", "de"}}},
		{"max length kept", []string{"12345678\n"}, false, result{lines: []string{"12345678"}}},
		{"oversize", []string{"123456789", "0abc\r\nok\n"}, false, result{lines: []string{"ok"}, skips: Skips{Oversize: 1}}},
		{"first line after open", []string{"23.5\nt=1\n"}, true, result{lines: []string{"t=1"}, skips: Skips{Partial: 1}}},
		{"open at a line's end", []string{"\nt=1\n"}, true, result{lines: []string{"t=1"}}},
		{"no end", []string{"abc"}, false, result{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &splitter{max: 8}
			var got result
			if tt.resync {
				s.resync(got.skips.add)
			}
			run(s, &got, tt.chunks...)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("feed(%q) = %+v; want %+v", tt.chunks, got, tt.want)
			}
		})
	}
	// The port is lost in the middle of a line.
	s := &splitter{max: 8}
	var got result
	run(s, &got, "t=1\nt=")
	s.cut(got.skips.add)
	run(s, &got, "2\n")
	if want := (result{lines: []string{"t=1", "2"}, skips: Skips{Partial: 1}}); !reflect.DeepEqual(got, want) {
		t.Errorf("cut = %+v; want %+v", got, want)
	}
}

func TestSkipsString(t *testing.T) {
	for s, want := range map[Skips]string{
		{}:                                      "none",
		{Partial: 2, Garbage: 1}:                "2 partial, 1 garbage",
		{Oversize: 1, Malformed: 3, NoValue: 4}: "1 oversize, 3 malformed, 4 no value",
	} {
		if got := s.String(); got != want {
			t.Errorf("%+v.String() = %q; want %q", s, got, want)
		}
	}
}
