package config_test

import (
	"encoding"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/iot-hub/agent/agent/config"
	"github.com/iot-hub/agent/agent/sensors/drivers"
)

// referencePage is the configuration reference: every key of the file,
// with its default and limits, in yaml blocks that are complete files.
var referencePage = filepath.Join("..", "..", "docs", "configuration.md")

// inProse are the keys the reference names in its text rather than in a
// block, each with why no block can hold it.
var inProse = map[string]string{
	"uplink.kafka.commandsTopic": "the old key of topics.commands, refused beside it",
}

// TestReference checks the reference against the code, so that it cannot
// drift: every block is a valid configuration (so every key it shows
// exists and its value is within its limits), and every key the agent
// knows is shown in a block: each key check-config prints for those
// blocks, and each key of the file's sections and of every sensor type,
// printed or not (a key left out of check-config's output when it is
// empty, such as uplink.kafka.tls).
func TestReference(t *testing.T) {
	page := readReference(t)
	blocks := yamlBlocks(page)
	if len(blocks) == 0 {
		t.Fatalf("%s has no yaml block", referencePage)
	}
	getenv := pageEnv(page)
	documented := map[string]bool{}
	printed := map[string]bool{}
	for i, b := range blocks {
		c, err := config.Parse([]byte(b), getenv)
		if err != nil {
			t.Fatalf("%s, yaml block %d: %v", referencePage, i+1, err)
		}
		keyPaths(t, documented, b)
		out, err := c.MaskedYAML()
		if err != nil {
			t.Fatal(err)
		}
		keyPaths(t, printed, string(out))
	}

	for _, typ := range drivers.Types() {
		if !documented["sensors["+typ+"].type"] {
			t.Errorf("%s shows no sensor of type %s", referencePage, typ)
		}
	}
	keys := codeKeys(t)
	shown := func(k docKey) bool {
		return slices.ContainsFunc(k.shownAs, func(p string) bool { return documented[p] })
	}
	for _, k := range keys {
		if why, ok := inProse[k.path]; ok {
			if name := k.path[strings.LastIndex(k.path, ".")+1:]; !strings.Contains(page, "`"+name+"`") {
				t.Errorf("%s does not name `%s` (%s)", referencePage, k.path, why)
			}
			continue
		}
		if !shown(k) {
			t.Errorf("%s shows no %s, a key the agent reads", referencePage, k.path)
		}
	}
	for _, p := range sortedKeys(printed) {
		known := slices.ContainsFunc(keys, func(k docKey) bool { return slices.Contains(k.shownAs, p) })
		if !known && !documented[p] { // a key the walk above missed
			t.Errorf("%s shows no %s, which check-config prints", referencePage, p)
		}
	}
}

// TestReferenceDefaults checks that the reference's first block, the
// whole file for the MQTT uplink, gives every key its default: it reads
// as a file that sets only what is required.
func TestReferenceDefaults(t *testing.T) {
	blocks := yamlBlocks(readReference(t))
	if len(blocks) == 0 {
		t.Fatalf("%s has no yaml block", referencePage)
	}
	c, err := config.Parse([]byte(blocks[0]), nil)
	if err != nil {
		t.Fatalf("%s, yaml block 1: %v", referencePage, err)
	}
	defaults, err := config.Parse([]byte("deviceId: gw-0042\nuplink: {mqtt: {broker: \"mqtts://broker:8883\"}}\nsensors: [{name: sim, type: sim, interval: 1s}, {name: board, type: thermal, interval: 30s}]\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := c.MaskedYAML()
	want, _ := defaults.MaskedYAML()
	if string(got) != string(want) {
		t.Errorf("%s's first block is not the defaults:\n%s\nwant\n%s", referencePage, got, want)
	}
}

func readReference(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(referencePage)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// yamlBlocks returns the bodies of the page's ```yaml blocks.
func yamlBlocks(page string) []string {
	var blocks []string
	for {
		_, rest, ok := strings.Cut(page, "```yaml\n")
		if !ok {
			return blocks
		}
		block, after, ok := strings.Cut(rest, "```\n")
		if !ok {
			return blocks
		}
		blocks = append(blocks, block)
		page = after
	}
}

// pageEnv is the environment the page names: each IOT_HUB_ variable it
// mentions set, as a block that takes a secret from one needs it.
func pageEnv(page string) func(string) string {
	named := regexp.MustCompile(`IOT_HUB_[A-Z_]+`).FindAllString(page, -1)
	return func(key string) string {
		if slices.Contains(named, key) {
			return "from-env"
		}
		return ""
	}
}

// keyPaths adds to paths the path of every key of the YAML document doc:
// "uplink.mqtt.broker", "registers[].scale" for the entries of a list,
// and "sensors[TYPE].KEY" for the entries of the sensors list.
func keyPaths(t *testing.T, paths map[string]bool, doc string) {
	t.Helper()
	var v any
	if err := yaml.Unmarshal([]byte(doc), &v); err != nil {
		t.Fatalf("yaml.Unmarshal: %v\n%s", err, doc)
	}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				paths[prefix+k] = true
				walk(prefix+k+".", e)
			}
		case []any:
			list := strings.TrimSuffix(prefix, ".")
			for _, e := range v {
				index := "[]"
				if m, ok := e.(map[string]any); ok && list == "sensors" {
					index = "[" + m["type"].(string) + "]"
				}
				walk(list+index+".", e)
			}
		}
	}
	walk("", v)
}

// docKey is a key the agent reads: its path, and the paths in a file that
// show it. A key of every sensor is shown in a sensor of any type
// ("sensors[].interval": "sensors[sim].interval", ...), a serial port's
// in a sensor of any type on a serial port, a type's own in a sensor of
// that type.
type docKey struct {
	path    string
	shownAs []string
}

// codeKeys returns every key the agent reads, found as the
// configuration's decoder (internal/confkeys) finds them: the yaml tags
// of the file's structs, from config.Config down, and for each sensor
// type the keys drivers.NewKeys gives it.
func codeKeys(t *testing.T) []docKey {
	types := drivers.Types()
	if len(types) == 0 {
		t.Fatal("drivers.Types() is empty")
	}
	var keys []docKey
	common := map[string]bool{}
	yamlKeys(common, "", reflect.TypeFor[config.Config]())
	for _, p := range sortedKeys(common) {
		k := docKey{path: p, shownAs: []string{p}}
		if rest, ok := strings.CutPrefix(p, "sensors[]."); ok {
			k.shownAs = nil
			for _, typ := range types {
				k.shownAs = append(k.shownAs, "sensors["+typ+"]."+rest)
			}
		}
		keys = append(keys, k)
	}
	serial := map[string][]string{} // a serial port's key: its paths in each type on a port
	for _, typ := range types {
		port, settings := drivers.NewKeys(typ)
		if port != nil {
			own := map[string]bool{}
			yamlKeys(own, "", reflect.TypeOf(port))
			for p := range own {
				serial[p] = append(serial[p], "sensors["+typ+"]."+p)
			}
		}
		own := map[string]bool{}
		yamlKeys(own, "sensors["+typ+"].", reflect.TypeOf(settings))
		for _, p := range sortedKeys(own) {
			keys = append(keys, docKey{path: p, shownAs: []string{p}})
		}
	}
	for _, p := range slices.Sorted(maps.Keys(serial)) {
		keys = append(keys, docKey{path: "a serial port's " + p, shownAs: serial[p]})
	}
	return keys
}

// yamlKeys adds to keys the key paths of struct type t, under prefix:
// its exported fields' yaml tags, those of its inline struct fields in
// their place, and the keys of the structs they hold. An inline field of
// another type (a pointer, an interface) is decoded by its struct's
// MappingDecoder, which codeKeys asks for its keys.
func yamlKeys(keys map[string]bool, prefix string, t reflect.Type) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		key, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if key == "" && slices.Contains(strings.Split(opts, ","), "inline") {
			if f.Type.Kind() == reflect.Struct {
				yamlKeys(keys, prefix, f.Type)
			}
			continue
		}
		if key == "" || key == "-" {
			continue
		}
		keys[prefix+key] = true
		switch ft := deref(f.Type); {
		case isMapping(ft):
			yamlKeys(keys, prefix+key+".", ft)
		case (ft.Kind() == reflect.Slice || ft.Kind() == reflect.Array) && isMapping(deref(ft.Elem())):
			yamlKeys(keys, prefix+key+"[].", deref(ft.Elem()))
		}
	}
}

func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// isMapping reports whether values of t are written as a mapping of keys:
// a struct that does not read itself from a scalar.
func isMapping(t reflect.Type) bool {
	return t.Kind() == reflect.Struct && !reflect.PointerTo(t).Implements(reflect.TypeFor[encoding.TextUnmarshaler]())
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
