package contracts_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/iot-hub/agent/contracts"
)

// golden returns the golden message of type t from testdata.
func golden(t testing.TB, et contracts.EventType) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", string(et)+".json"))
	if err != nil {
		t.Fatalf("golden %s: %v", et, err)
	}
	return b
}

// deleted marks a member to remove in patch.
type deletedT struct{}

var deleted = deletedT{}

// patch returns the golden message of type et with the member at path
// (dotted, with [i] for array elements) set to the JSON text value, or
// removed when value is deleted. Member order is not kept.
func patch(t testing.TB, et contracts.EventType, path string, value any) []byte {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(golden(t, et), &doc); err != nil {
		t.Fatal(err)
	}
	var cur any = doc
	steps := splitPath(path)
	for i, step := range steps {
		last := i == len(steps)-1
		switch c := cur.(type) {
		case map[string]any:
			if last {
				if value == deleted {
					delete(c, step)
				} else {
					c[step] = jsonValue(t, value)
				}
				break
			}
			cur = c[step]
		case []any:
			n, err := strconv.Atoi(step)
			if err != nil || n >= len(c) {
				t.Fatalf("patch %s: no element %q", path, step)
			}
			if last {
				c[n] = jsonValue(t, value)
				break
			}
			cur = c[n]
		default:
			t.Fatalf("patch %s: %q is not in an object or array", path, step)
		}
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// jsonValue returns the JSON text s as a raw value, kept as written.
func jsonValue(t testing.TB, s any) jsontext.Value {
	t.Helper()
	v := jsontext.Value(s.(string))
	if !v.IsValid() {
		t.Fatalf("bad JSON in test: %s", s)
	}
	return v
}

// splitPath splits "payload.readings[0].value" into payload, readings, 0,
// value.
func splitPath(path string) []string {
	path = strings.NewReplacer("[", ".", "]", "").Replace(path)
	return strings.Split(path, ".")
}
