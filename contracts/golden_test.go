package contracts_test

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/iot-hub/agent/contracts"
)

// TestGoldenRoundTrip decodes every golden message, checks its Go type,
// re-encodes it and compares byte for byte with the golden's compact form:
// member order, time format and omitted optionals are part of the contract.
func TestGoldenRoundTrip(t *testing.T) {
	for _, et := range contracts.EventTypes() {
		t.Run(string(et), func(t *testing.T) {
			in := golden(t, et)
			m, err := contracts.Decode(in)
			if err != nil {
				t.Fatalf("Decode(%s) = %v", et, err)
			}
			if got, want := reflect.TypeOf(m), reflect.TypeOf(contracts.NewMessage(et)); got != want {
				t.Errorf("Decode(%s) = %v; want %v", et, got, want)
			}
			if m.Header().EventType != et || m.Kind() != et.Kind() {
				t.Errorf("Decode(%s) header = %s (%v); want %s (%v)", et, m.Header().EventType, m.Kind(), et, et.Kind())
			}
			out, err := contracts.Encode(m)
			if err != nil {
				t.Fatalf("Encode(Decode(%s)) = %v", et, err)
			}
			want := jsontext.Value(bytes.Clone(in))
			if err := want.Compact(); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, want) {
				t.Errorf("Encode(Decode(%s)) =\n%s\nwant\n%s", et, out, want)
			}
		})
	}
}

// TestGoldenFilesMatchCatalogue checks there is exactly one golden file per
// type of the catalogue.
func TestGoldenFilesMatchCatalogue(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, et := range contracts.EventTypes() {
		want[string(et)] = true
		if _, err := os.Stat(filepath.Join("testdata", string(et)+".json")); err != nil {
			t.Errorf("no golden file for %s: %v", et, err)
		}
	}
	for _, f := range files {
		if name := strings.TrimSuffix(filepath.Base(f), ".json"); !want[name] {
			t.Errorf("golden file %s names no type of the catalogue", f)
		}
	}
}

// TestDocsExample decodes the example message docs/contracts.md shows, so
// the documentation cannot drift from the contract.
func TestDocsExample(t *testing.T) {
	page, err := os.ReadFile(filepath.Join("..", "docs", "contracts.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(page), "```json\n")
	block, _, closed := strings.Cut(block, "```")
	if !ok || !closed {
		t.Fatal("docs/contracts.md has no ```json block")
	}
	m, err := contracts.Decode([]byte(block))
	if err != nil {
		t.Fatalf("Decode(docs/contracts.md example) = %v", err)
	}
	if _, ok := m.(*contracts.DeviceResponseRPC); !ok {
		t.Errorf("docs/contracts.md's example is a %T; the text around it says it is a device.response.rpc", m)
	}
}
