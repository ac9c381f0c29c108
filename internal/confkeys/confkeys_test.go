package confkeys_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/iot-hub/agent/internal/confkeys"
)

// framing and device are keys as a component declares them: device lends
// framing's keys inline, and has limits of every kind.
type framing struct {
	Baud int `yaml:"baud" limit:"50..4000000"`
}

type device struct {
	Name     string        `yaml:"name"`
	Interval time.Duration `yaml:"interval" limit:"100ms..24h"`
	Timeout  time.Duration `yaml:"timeout" limit:"1ms..interval"`
	Framing  framing       `yaml:",inline"`
	Slave    uint8         `yaml:"slave" limit:"1..247"`
	Address  uint16        `yaml:"address" limit:"0x76..0x77"`
	Retries  *int          `yaml:"retries" limit:"0..10"`
	Buffer   confkeys.Size `yaml:"buffer" limit:"16B..64KiB"`
	Regs     []register    `yaml:"regs"`
	Extra    any           `yaml:",inline"` // a MappingDecoder's
}

type register struct {
	Metric   string `yaml:"metric"`
	Function uint8  `yaml:"function" limit:"3..4"`
}

func decode(t *testing.T, yaml string, v any) (*confkeys.Document, error) {
	t.Helper()
	doc, err := confkeys.Parse([]byte(yaml))
	if err != nil {
		t.Fatalf("Parse(%q) = %v", yaml, err)
	}
	return doc, doc.Decode(v)
}

func TestDecode(t *testing.T) {
	var d device
	doc, err := decode(t, "name: a\ninterval: 1s\ntimeout: 2s\nbaud: 19200\nslave: 247\naddress: 0x77\nretries: 0\nbuffer: 4KiB\nregs:\n  - {metric: t, function: 4}\n", &d)
	if err != nil {
		t.Fatal(err)
	}
	want := device{Name: "a", Interval: time.Second, Timeout: 2 * time.Second, Framing: framing{Baud: 19200}, Slave: 247,
		Address: 0x77, Retries: new(0), Buffer: 4 * confkeys.KiB, Regs: []register{{Metric: "t", Function: 4}}}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("Decode = %+v; want %+v", d, want)
	}
	for path, line := range map[string]int{"name": 1, "baud": 4, "regs": 9, "regs[0]": 10, "regs[0].function": 10, "nothing": 0} {
		if got := doc.Line(path); got != line {
			t.Errorf("Line(%q) = %d; want %d", path, got, line)
		}
	}
	if got := (*confkeys.Document)(nil).Line("name"); got != 0 {
		t.Errorf("nil Document's Line = %d; want 0", got)
	}
}

func TestDecodeRefuses(t *testing.T) {
	for _, tt := range []struct {
		yaml string
		err  error
		want confkeys.FieldError // Err left out
	}{
		{"nme: a\n", confkeys.ErrUnknownKey, confkeys.FieldError{Path: "nme", Line: 1, Msg: "unknown key (did you mean name?)"}},
		{"framing: {}\n", confkeys.ErrUnknownKey, confkeys.FieldError{Path: "framing", Line: 1, Msg: "unknown key"}},
		{"extra: 1\n", confkeys.ErrUnknownKey, confkeys.FieldError{Path: "extra", Line: 1, Msg: "unknown key"}},
		{"name: a\nbaud: 10\n", confkeys.ErrInvalid, confkeys.FieldError{Path: "baud", Line: 2, Msg: "10 is outside 50..4000000"}},
		{"slave: -1\n", confkeys.ErrInvalid, confkeys.FieldError{Path: "slave", Line: 1, Msg: "-1 is outside 1..247"}},
		{"slave: 300\n", confkeys.ErrInvalid, confkeys.FieldError{Path: "slave", Line: 1, Msg: "300 is outside 1..247"}},
		{"slave: 1.5\n", confkeys.ErrInvalid, confkeys.FieldError{Path: "slave", Line: 1, Msg: "want a whole number, not 1.5"}},
		{"address: 0\n", confkeys.ErrInvalid, confkeys.FieldError{Path: "address", Line: 1, Msg: "0x0 is outside 0x76..0x77"}},
		{"retries: 11\n", confkeys.ErrInvalid, confkeys.FieldError{Path: "retries", Line: 1, Msg: "11 is outside 0..10"}},
		{"timeout: 0s\n", confkeys.ErrInvalid, confkeys.FieldError{Path: "timeout", Line: 1, Msg: "0s is outside 1ms..interval"}},
		{"interval: 10\n", confkeys.ErrInvalid, confkeys.FieldError{Path: "interval", Line: 1, Msg: `10 has no unit: write a duration such as "10s"`}},
		{"buffer: 8B\n", confkeys.ErrInvalid, confkeys.FieldError{Path: "buffer", Line: 1, Msg: "8B is outside 16B..64KiB"}},
		{"regs:\n  - {metric: t}\n  - {function: 5}\n", confkeys.ErrInvalid, confkeys.FieldError{Path: "regs[1].function", Line: 3, Msg: "5 is outside 3..4"}},
		{"regs: {metric: t}\n", confkeys.ErrInvalid, confkeys.FieldError{Path: "regs", Line: 1, Msg: "want a list, not a mapping"}},
		{"name: &a x\n", confkeys.ErrInvalid, confkeys.FieldError{Path: "name", Line: 1, Msg: "YAML anchors and aliases are not supported: write the value out"}},
	} {
		var d device
		_, err := decode(t, tt.yaml, &d)
		e, ok := errors.AsType[*confkeys.FieldError](err)
		if !ok || !errors.Is(err, tt.err) || e.Path != tt.want.Path || e.Line != tt.want.Line || e.Msg != tt.want.Msg {
			t.Errorf("Decode(%q) = %#v; want %v at line %d: %s: %s", tt.yaml, err, tt.err, tt.want.Line, tt.want.Path, tt.want.Msg)
		}
	}
	for _, yaml := range []string{"name: [a\n", "name: a\n---\nname: b\n"} {
		if _, err := confkeys.Parse([]byte(yaml)); !errors.Is(err, confkeys.ErrSyntax) {
			t.Errorf("Parse(%q) = %v; want ErrSyntax", yaml, err)
		}
	}
}

// sensor decodes its keys itself: its type's keys, from the value of its
// type key, beside its own.
type sensor struct {
	Type     string `yaml:"type"`
	Settings any    `yaml:",inline"`
}

type simKeys struct {
	Period time.Duration `yaml:"period" limit:"1s.."`
}

func (s *sensor) DecodeMapping(m *confkeys.Mapping) error {
	typ, _ := m.Scalar("type")
	if typ == "sim" {
		s.Settings = &simKeys{}
	}
	return m.Decode(func(key string) string { return "unknown key for a " + typ + " sensor" }, s, s.Settings)
}

func TestMappingDecoder(t *testing.T) {
	var list struct {
		Sensors []sensor `yaml:"sensors"`
	}
	doc, err := decode(t, "sensors:\n  - period: 1m\n    type: sim\n  - {type: other}\n", &list)
	if err != nil {
		t.Fatal(err)
	}
	want := []sensor{{Type: "sim", Settings: &simKeys{Period: time.Minute}}, {Type: "other"}}
	if !reflect.DeepEqual(list.Sensors, want) {
		t.Errorf("Decode = %+v; want %+v", list.Sensors, want)
	}
	if doc.Line("sensors[0].period") != 2 || doc.Line("sensors[0].type") != 3 {
		t.Errorf("lines of sensors[0]'s keys: %d, %d; want 2, 3", doc.Line("sensors[0].period"), doc.Line("sensors[0].type"))
	}
	_, err = decode(t, "sensors:\n  - {type: sim, period: 10ms}\n", &list)
	if e, ok := errors.AsType[*confkeys.FieldError](err); !ok || e.Error() != "sensors[0].period: 10ms is below 1s" || e.Line != 2 {
		t.Errorf("Decode(period: 10ms) = %v; want the limit's error at sensors[0].period, line 2", err)
	}
	_, err = decode(t, "sensors:\n  - {type: other, period: 1s}\n", &list)
	if e, ok := errors.AsType[*confkeys.FieldError](err); !ok || !errors.Is(err, confkeys.ErrUnknownKey) || e.Error() != "sensors[0].period: unknown key for a other sensor" {
		t.Errorf("Decode(another type's key) = %v; want the MappingDecoder's refusal", err)
	}
}

func TestCheckLimits(t *testing.T) {
	ok := device{Interval: time.Second, Timeout: time.Second, Framing: framing{Baud: 50}, Slave: 1, Address: 0x76, Buffer: 16,
		Regs: []register{{Function: 3}}}
	if err := confkeys.CheckLimits(&ok); err != nil {
		t.Errorf("CheckLimits(%+v) = %v; want nil", ok, err)
	}
	for _, tt := range []struct {
		change func(d *device)
		want   string
	}{
		{func(d *device) { d.Framing.Baud = 0 }, "baud: 0 is outside 50..4000000"},
		{func(d *device) { d.Slave = 248 }, "slave: 248 is outside 1..247"},
		{func(d *device) { d.Address = 0x40 }, "address: 0x40 is outside 0x76..0x77"},
		{func(d *device) { d.Retries = new(-2) }, "retries: -2 is outside 0..10"},
		{func(d *device) { d.Timeout = 0 }, "timeout: 0s is outside 1ms..interval"},
		{func(d *device) { d.Buffer = 1 << 20 }, "buffer: 1MiB is outside 16B..64KiB"},
		{func(d *device) { d.Regs = append(d.Regs, register{Function: 6}) }, "regs[1].function: 6 is outside 3..4"},
	} {
		d := ok
		d.Regs = append([]register(nil), ok.Regs...)
		tt.change(&d)
		err := confkeys.CheckLimits(&d)
		if !errors.Is(err, confkeys.ErrInvalid) || err.Error() != tt.want {
			t.Errorf("CheckLimits = %v; want %s", err, tt.want)
		}
	}
}

func TestFieldErrorPrefix(t *testing.T) {
	e := confkeys.Invalid("registers[2].type", "%q: want int16", "x")
	for prefix, want := range map[string]string{
		"sensors[0]": `sensors[0].registers[2].type: "x": want int16`,
		"":           `registers[2].type: "x": want int16`,
	} {
		if got := e.Prefix(prefix).Error(); got != want {
			t.Errorf("Prefix(%q) = %q; want %q", prefix, got, want)
		}
	}
	if got := confkeys.Invalid("[1].name", "dup").Prefix("sensors").Path; got != "sensors[1].name" {
		t.Errorf("Prefix of an index = %q; want sensors[1].name", got)
	}
	if e.Path != "registers[2].type" {
		t.Errorf("Prefix changed the error: %q", e.Path)
	}
}

func TestSuggest(t *testing.T) {
	known := []string{"broker", "keepAlive", "port", "baud"}
	for key, want := range map[string]string{
		"brokr":     " (did you mean broker?)",
		"KEEPALIVE": " (did you mean keepAlive?)",
		"color":     "",
		"bus":       "", // one edit from baud, but baud is short
	} {
		if got := confkeys.Suggest(key, known); got != want {
			t.Errorf("Suggest(%q) = %q; want %q", key, got, want)
		}
	}
	if got, want := confkeys.Keys(&device{}), []string{"name", "interval", "timeout", "baud", "slave", "address", "retries", "buffer", "regs"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Keys = %v; want %v", got, want)
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want confkeys.Size
		ok   bool
	}{
		{"1048576", 1 << 20, true},
		{"64MiB", 64 << 20, true},
		{"512KiB", 512 << 10, true},
		{"1.5GiB", 3 << 29, true},
		{"10B", 10, true},
		{"64MB", 0, false},
		{"-1", 0, false},
		{"MiB", 0, false},
		{"1.5", 0, false},
	}
	for _, tt := range tests {
		got, err := confkeys.ParseSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseSize(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
	for in, want := range map[confkeys.Size]string{64 << 20: "64MiB", 1000: "1000B", 3 << 29: "1536MiB", 0: "0B"} {
		if got := in.String(); got != want {
			t.Errorf("Size(%d).String() = %q; want %q", int64(in), got, want)
		}
	}
}
