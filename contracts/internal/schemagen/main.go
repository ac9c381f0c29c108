// Command schemagen writes the JSON Schema (draft 2020-12) of every message
// type of package contracts, one file per entry of contracts.EventTypes(),
// to schema/<eventType>.json. It is run by "go generate ./contracts" from
// the contracts directory; -dir names another output directory. JSON files
// of the directory that name no event type are removed, so the directory
// holds exactly the catalogue. The output is deterministic: 2-space
// indented, members in a fixed order, a trailing newline.
//
// The schemas are made by reflection on contracts.NewMessage(t) (see
// package contracts/internal/jsonschema), with these rules.
//
//   - A struct is {"type": "object", "properties": {...}, "required": [...]}
//     with its properties in field order under their json names; embedded
//     structs (Command, Response, Event, Envelope) are inlined, as json v2
//     does. additionalProperties is never restricted: unknown members are
//     allowed, for forward compatibility.
//   - A field is required unless its json tag has omitzero or omitempty or
//     its jsonschema tag has optional.
//   - A string is {"type": "string"}; a required one gets "minLength": 1
//     unless tagged allowEmpty. A named string type with a method
//     Values() []string is an "enum" of those values. The EventType field
//     is "const": the message's event type.
//   - time.Time is {"type": "string", "format": "date-time", "pattern": P},
//     where P narrows RFC 3339 to the contract's date-time: upper-case T
//     and Z, no leap second, a year from 1970 as written; float32 and
//     float64 are "number"; integer types are "integer"; bool is
//     "boolean"; a slice or array is an "array" of its element's schema; a
//     pointer is its element's schema.
//   - jsontext.Value must be tagged object ({"type": "object"}) or any ({},
//     any JSON value).
//   - The top level gets $schema, $id
//     (https://schemas.iot-hub.dev/contracts/v1/<eventType>.json), title
//     (the Go type name) and a description of its kind. A response also
//     gets the rule Decode enforces: if status is "error", error is
//     required, else error must be absent.
//
// # The jsonschema tag
//
// The `jsonschema:"..."` struct tag holds comma-separated items:
//
//	optional        the field is not required, though its json tag would
//	                make it so
//	allowEmpty      a required string may be "" (no minLength)
//	format=NAME     a string's "format", such as uuid
//	const=VALUE     a string's "const" (VALUE cannot hold a comma)
//	encodedBy=NAME  a string written under the contracts.Encoding held by
//	                the sibling member NAME: when NAME is "base64", the
//	                string must be standard base64 (an if/then rule on the
//	                enclosing object)
//	object          a jsontext.Value that must be a JSON object
//	any             a jsontext.Value that may be any JSON value
//	minimum=N       a number's inclusive "minimum"
//	maximum=N       a number's inclusive "maximum"
//	minItems=N      an array's "minItems"
//
// An unknown item, or an item on a type it does not apply to, is an error:
// the generator fails rather than drop a rule.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/contracts/internal/jsonschema"
)

func main() {
	dir := flag.String("dir", "schema", "output directory")
	flag.Parse()
	if err := run(*dir); err != nil {
		fmt.Fprintln(os.Stderr, "schemagen:", err)
		os.Exit(1)
	}
}

// run writes every schema into dir and removes stale schema files.
func run(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	want := make(map[string]bool)
	for _, t := range contracts.EventTypes() {
		b, err := jsonschema.Generate(t)
		if err != nil {
			return err
		}
		name := jsonschema.FileName(t)
		want[name] = true
		path := filepath.Join(dir, name)
		if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, b) {
			continue // unchanged: keep the file's modification time
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			return err
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".json") && !want[e.Name()] {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}
