package contracts_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	sj "github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/contracts/internal/jsonschema"
)

// schemaDir holds the generated schemas, testdataDir the golden messages.
const (
	schemaDir   = "schema"
	testdataDir = "testdata"
)

// TestSchemasUpToDate regenerates every schema in memory and compares it
// with the committed file.
func TestSchemasUpToDate(t *testing.T) {
	want := make(map[string]bool)
	for _, et := range contracts.EventTypes() {
		name := jsonschema.FileName(et)
		want[name] = true
		b, err := jsonschema.Generate(et)
		if err != nil {
			t.Errorf("generating the schema of %s: %v", et, err)
			continue
		}
		if again, _ := jsonschema.Generate(et); !bytes.Equal(again, b) {
			t.Errorf("generating the schema of %s twice gives different bytes", et)
		}
		got, err := os.ReadFile(filepath.Join(schemaDir, name))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			t.Errorf("%s/%s is missing: run go generate ./contracts", schemaDir, name)
		case err != nil:
			t.Error(err)
		case !bytes.Equal(got, b):
			t.Errorf("%s/%s is out of date: run go generate ./contracts", schemaDir, name)
		}
	}
	entries, err := os.ReadDir(schemaDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		switch {
		case want[e.Name()]:
		case strings.HasSuffix(e.Name(), ".json") && !e.IsDir():
			t.Errorf("%s/%s names no event type of the catalogue: run go generate ./contracts, which removes it", schemaDir, e.Name())
		default:
			t.Errorf("%s/%s does not belong there: only generated schemas do; remove it", schemaDir, e.Name())
		}
	}
}

// TestGoldenMatchesSchema checks that there is exactly one golden message
// per catalogue type and that it is valid against its committed schema,
// formats asserted.
func TestGoldenMatchesSchema(t *testing.T) {
	schemas := compileSchemas(t)
	entries, err := os.ReadDir(testdataDir)
	if err != nil {
		t.Fatal(err)
	}
	seen := make(map[contracts.EventType]bool)
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		et := contracts.EventType(name)
		if !ok || e.IsDir() || !et.Known() {
			t.Errorf("%s/%s is not <eventType>.json for an event type of the catalogue", testdataDir, e.Name())
			continue
		}
		seen[et] = true
		doc := readGolden(t, et)
		var head struct {
			EventType contracts.EventType `json:"eventType"`
		}
		if err := json.Unmarshal(doc, &head); err != nil || head.EventType != et {
			t.Errorf("%s/%s: eventType is %q, want %q (err %v)", testdataDir, e.Name(), head.EventType, et, err)
		}
		if err := validateDoc(schemas[et], doc); err != nil {
			t.Errorf("%s/%s does not match %s/%s: %v", testdataDir, e.Name(), schemaDir, jsonschema.FileName(et), err)
		}
	}
	for _, et := range contracts.EventTypes() {
		if !seen[et] {
			t.Errorf("%s/%s.json is missing: every catalogue type needs one golden message", testdataDir, et)
		}
	}
}

// TestSchemaAndDecodeAgree mutates every golden message in many small ways
// and checks that contracts.Decode and the schema agree on each: both
// accept it, or both reject it and Decode names the mutated member (see
// pathAgrees).
//
// Each member at every depth is deleted, renamed (upper case: names match
// exactly), replaced by a value of every JSON kind (null, true, 0, 1.5,
// "x", "", [], {}), by "not-a-valid-value", by every other value of its
// enum, by a minimal valid value and, for date-times, UUIDs and integers,
// by values at the edges of their formats and ranges; array elements are
// deleted and replaced the same way. Every member the schema declares and
// the message lacks is added with the same values, and an unknown member
// is added to every object. Then come whole-document mutations: the
// document replaced by other kinds, __version "v2", an unknown eventType,
// header members of another kind (status on an event, expiresAt on a
// response), base64 bodies. Every mutation is tried twice: as is, and with
// payload moved before eventType, which takes another path in Decode.
// A response is mutated twice over, from its success golden and from the
// same message with status error and an error object.
func TestSchemaAndDecodeAgree(t *testing.T) {
	schemas := compileSchemas(t)
	total, twins := 0, 0
	for _, et := range contracts.EventTypes() {
		golden := parseJNode(t, readGolden(t, et))
		schemaDoc := readSchemaDoc(t, et)
		bases := []struct {
			name string
			doc  *jnode
		}{{"golden", golden}}
		if et.Kind() == contracts.KindResponse {
			bases = append(bases, struct {
				name string
				doc  *jnode
			}{"golden_with_error", withErrorStatus(t, golden)})
		}
		t.Run(string(et), func(t *testing.T) {
			for _, base := range bases {
				muts := mutate(base.doc, schemaDoc, et)
				total += len(muts)
				for _, m := range muts {
					if strings.HasSuffix(m.name, payloadFirstSuffix) {
						twins++
					}
				}
				t.Run(base.name, func(t *testing.T) {
					for _, m := range muts {
						t.Run(m.name, func(t *testing.T) { checkAgreement(t, schemas[et], m) })
					}
				})
			}
		})
	}
	t.Logf("%d mutated documents: %d mutations, each also with payload first (%d)", total, total-twins, twins)
}

// checkAgreement checks one mutation.
func checkAgreement(t *testing.T, sch *sj.Schema, m mutation) {
	t.Helper()
	_, decErr := contracts.Decode(m.doc)
	schErr := validateDoc(sch, m.doc)
	switch {
	case m.valid && (decErr != nil || schErr != nil):
		t.Errorf("the golden must be valid\ninput:  %s\nDecode: %v\nschema: %v", m.doc, decErr, schErr)
	case decErr == nil && schErr == nil:
	case decErr == nil:
		t.Errorf("Decode accepts, the schema rejects\ninput:  %s\nschema: %v", m.doc, schErr)
	case schErr == nil:
		t.Errorf("Decode rejects, the schema accepts\ninput:  %s\nDecode: %v", m.doc, decErr)
	default:
		var cerr *contracts.Error
		if !errors.As(decErr, &cerr) {
			t.Fatalf("Decode returned %T, want *contracts.Error: %v", decErr, decErr)
		}
		if !pathAgrees(cerr.Path, m) {
			t.Errorf("both reject, but Decode names %q, not %q or an ancestor\ninput:  %s\nDecode: %v", cerr.Path, m.path, m.doc, decErr)
		}
	}
}

// pathAgrees reports whether the path Decode names is right for m: the
// mutated member itself, or an ancestor of it.
//
// The ancestor is allowed for a mutation that breaks the enclosing value as
// a whole rather than the member; none of the mutations here needs it
// today: Decode names the member itself even when its kind changes to an
// object or an array (payload.readings[0].value={} is reported at
// payload.readings[0].value), and a document that is not an object is
// reported at "", which is its own path.
//
// Two more cases are accepted:
//   - a path inside the new value, when the new value is an object or an
//     array: replacing source by {} is rightly reported as
//     "source.type: required" (so are payload={}, error={}, document={}
//     and payload.readings[i]={});
//   - a path tied to the mutated member by a cross-field rule (see
//     crossFieldPaths): status "error" without error is reported at error.
func pathAgrees(got string, m mutation) bool {
	switch {
	case got == m.path || isAncestorPath(got, m.path):
		return true
	case (m.newKind == '{' || m.newKind == '[') && isAncestorPath(m.path, got):
		return true
	}
	return slices.Contains(crossFieldPaths[m.path], got)
}

// crossFieldPaths lists, for a member, the members a cross-field rule may
// report when that member changes: the response's status and error, and
// the encodings and the byte strings written under them.
var crossFieldPaths = map[string][]string{
	"status":                  {"error"},
	"payload.payloadEncoding": {"payload.payload"},
	"payload.rawEncoding":     {"payload.raw"},
}

// isAncestorPath reports whether the dotted path a is a proper ancestor of b;
// "" is the document, the ancestor of all.
func isAncestorPath(a, b string) bool {
	if a == "" {
		return b != ""
	}
	return strings.HasPrefix(b, a+".") || strings.HasPrefix(b, a+"[")
}

// compileSchemas compiles every committed schema with format assertions
// on.
func compileSchemas(t *testing.T) map[contracts.EventType]*sj.Schema {
	t.Helper()
	c := sj.NewCompiler()
	c.DefaultDraft(sj.Draft2020)
	c.AssertFormat()
	for _, et := range contracts.EventTypes() {
		b, err := os.ReadFile(filepath.Join(schemaDir, jsonschema.FileName(et)))
		if err != nil {
			t.Fatalf("%v (run go generate ./contracts)", err)
		}
		doc, err := sj.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s/%s: %v", schemaDir, jsonschema.FileName(et), err)
		}
		if err := c.AddResource(jsonschema.ID(et), doc); err != nil {
			t.Fatal(err)
		}
	}
	schemas := make(map[contracts.EventType]*sj.Schema)
	for _, et := range contracts.EventTypes() {
		sch, err := c.Compile(jsonschema.ID(et))
		if err != nil {
			t.Fatalf("compiling %s/%s: %v", schemaDir, jsonschema.FileName(et), err)
		}
		schemas[et] = sch
	}
	return schemas
}

// validate validates the JSON document doc against sch.
func validateDoc(sch *sj.Schema, doc []byte) error {
	inst, err := sj.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return err
	}
	return sch.Validate(inst)
}

func readGolden(t *testing.T, et contracts.EventType) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testdataDir, string(et)+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readSchemaDoc reads the committed schema of et as plain JSON, for the
// mutations to find properties, enums and formats in.
func readSchemaDoc(t *testing.T, et contracts.EventType) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(schemaDir, jsonschema.FileName(et)))
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// withErrorStatus returns a copy of the response doc with status "error"
// and an error object.
func withErrorStatus(t *testing.T, doc *jnode) *jnode {
	t.Helper()
	d := doc.clone()
	i := d.index("status")
	if i < 0 {
		t.Fatal("the response golden has no status")
	}
	d.members[i].value = literalNode(`"error"`)
	d.members = slices.Insert(d.members, i+1, jmember{"error", literalNode(`{"code":"METHOD_NOT_FOUND","message":"no method getFoo"}`)})
	return d
}

// jnode is a JSON value that keeps the order of object members, so that a
// mutated document differs from its golden only where mutated.
type jnode struct {
	kind    jsontext.Kind  // '{', '[', or the kind of the scalar
	raw     jsontext.Value // a scalar's literal
	members []jmember      // an object's members
	elems   []*jnode       // an array's elements
}

// jmember is one member of an object jnode.
type jmember struct {
	name  string
	value *jnode
}

func parseJNode(t *testing.T, b []byte) *jnode {
	t.Helper()
	n, err := decodeJNode(jsontext.NewDecoder(bytes.NewReader(b)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// mustNode parses a JSON literal of the test itself.
func literalNode(s string) *jnode {
	n, err := decodeJNode(jsontext.NewDecoder(strings.NewReader(s)))
	if err != nil {
		panic(err)
	}
	return n
}

func decodeJNode(dec *jsontext.Decoder) (*jnode, error) {
	switch k := dec.PeekKind(); k {
	case '{', '[':
		if _, err := dec.ReadToken(); err != nil {
			return nil, err
		}
		n := &jnode{kind: k}
		for dec.PeekKind() != k+2 { // '}' is '{'+2, ']' is '['+2
			var name string
			if k == '{' {
				tok, err := dec.ReadToken()
				if err != nil {
					return nil, err
				}
				name = tok.String()
			}
			v, err := decodeJNode(dec)
			if err != nil {
				return nil, err
			}
			if k == '{' {
				n.members = append(n.members, jmember{name, v})
			} else {
				n.elems = append(n.elems, v)
			}
		}
		_, err := dec.ReadToken()
		return n, err
	default:
		v, err := dec.ReadValue()
		if err != nil {
			return nil, err
		}
		return &jnode{kind: v.Kind(), raw: v.Clone()}, nil
	}
}

// encode writes n as compact JSON.
func (n *jnode) encode() []byte {
	var buf bytes.Buffer
	enc := jsontext.NewEncoder(&buf, jsontext.AllowDuplicateNames(true))
	if err := n.write(enc); err != nil {
		panic(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func (n *jnode) write(enc *jsontext.Encoder) error {
	switch n.kind {
	case '{':
		if err := enc.WriteToken(jsontext.BeginObject); err != nil {
			return err
		}
		for _, m := range n.members {
			if err := enc.WriteToken(jsontext.String(m.name)); err != nil {
				return err
			}
			if err := m.value.write(enc); err != nil {
				return err
			}
		}
		return enc.WriteToken(jsontext.EndObject)
	case '[':
		if err := enc.WriteToken(jsontext.BeginArray); err != nil {
			return err
		}
		for _, e := range n.elems {
			if err := e.write(enc); err != nil {
				return err
			}
		}
		return enc.WriteToken(jsontext.EndArray)
	}
	return enc.WriteValue(n.raw)
}

// clone copies n deeply.
func (n *jnode) clone() *jnode {
	c := *n
	c.members = slices.Clone(n.members)
	for i := range c.members {
		c.members[i].value = c.members[i].value.clone()
	}
	c.elems = slices.Clone(n.elems)
	for i := range c.elems {
		c.elems[i] = c.elems[i].clone()
	}
	return &c
}

// index returns the index of the member called name, or -1.
func (n *jnode) index(name string) int {
	return slices.IndexFunc(n.members, func(m jmember) bool { return m.name == name })
}

// mutation is one mutated document.
type mutation struct {
	name string
	doc  []byte
	// path is the dotted path of the mutated member, "" for the document.
	path string
	// newKind is the JSON kind of the member's new value, 0 when it was
	// deleted.
	newKind jsontext.Kind
	// valid says the document is the golden itself, which both must
	// accept.
	valid bool
}

// mutator collects the mutations of one document, which it edits in place
// and restores after each snapshot.
type mutator struct {
	root *jnode
	muts []mutation
}

// emit snapshots the document as a mutation of the member at path.
func (m *mutator) emit(name, path string, newValue *jnode) {
	mut := mutation{name: name, doc: m.root.encode(), path: path}
	if newValue != nil {
		mut.newKind = newValue.kind
	}
	m.muts = append(m.muts, mut)
}

// mutate returns every mutation of doc, a message of type et whose schema
// is schema, each also with payload moved first.
func mutate(doc *jnode, schema map[string]any, et contracts.EventType) []mutation {
	m := &mutator{root: doc.clone()}
	m.emit("unchanged", "", nil)
	m.muts[0].valid = true
	m.value(m.root, "", schema)
	m.whole(et)
	n := len(m.muts)
	for _, mut := range m.muts[:n] {
		if moved, ok := movePayloadFirst(mut.doc); ok {
			mut.name += payloadFirstSuffix
			mut.doc = moved
			m.muts = append(m.muts, mut)
		}
	}
	return m.muts
}

// payloadFirstSuffix ends the name of a mutation tried with payload moved
// first.
const payloadFirstSuffix = "/payload_first"

// movePayloadFirst moves the payload member of a document object to the front.
func movePayloadFirst(doc []byte) ([]byte, bool) {
	n, err := decodeJNode(jsontext.NewDecoder(bytes.NewReader(doc)))
	if err != nil || n.kind != '{' {
		return nil, false
	}
	i := n.index("payload")
	if i <= 0 {
		return nil, false
	}
	p := n.members[i]
	n.members = slices.Insert(slices.Delete(n.members, i, i+1), 0, p)
	return n.encode(), true
}

// value mutates what is inside n, the value at path, whose schema is s.
func (m *mutator) value(n *jnode, path string, s map[string]any) {
	switch n.kind {
	case '{':
		m.object(n, path, s)
	case '[':
		items, _ := s["items"].(map[string]any)
		for j := range n.elems {
			at := path + "[" + strconv.Itoa(j) + "]"
			saved := n.elems
			n.elems = slices.Delete(slices.Clone(saved), j, j+1)
			m.emit(at+":deleted", at, nil)
			n.elems = saved
			orig := n.elems[j]
			for _, v := range replacementsFor(orig, items) {
				n.elems[j] = v
				m.emit(at+"="+string(v.encode()), at, v)
			}
			n.elems[j] = orig
			m.value(orig, at, items)
		}
	}
}

// object mutates the members of the object n at path, whose schema is s.
func (m *mutator) object(n *jnode, path string, s map[string]any) {
	props, _ := s["properties"].(map[string]any)
	for i := range n.members {
		name, orig := n.members[i].name, n.members[i].value
		at := dottedJoin(path, name)
		ps, _ := props[name].(map[string]any)

		saved := n.members
		n.members = slices.Delete(slices.Clone(saved), i, i+1)
		m.emit(at+":deleted", at, nil)
		n.members = saved

		if upper := strings.ToUpper(name); upper != name {
			n.members[i].name = upper
			m.emit(at+":renamed_"+upper, at, nil)
			n.members[i].name = name
		}

		for _, v := range replacementsFor(orig, ps) {
			n.members[i].value = v
			m.emit(at+"="+string(v.encode()), at, v)
		}
		n.members[i].value = orig
		m.value(orig, at, ps)
	}
	// Members the schema declares and the document lacks.
	names := make([]string, 0, len(props))
	for name := range props {
		if n.index(name) < 0 {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		ps, _ := props[name].(map[string]any)
		at := dottedJoin(path, name)
		for _, v := range replacementsFor(nil, ps) {
			saved := n.members
			n.members = append(slices.Clone(saved), jmember{name, v})
			m.emit(at+":added="+string(v.encode()), at, v)
			n.members = saved
		}
	}
	// An unknown member, which both must ignore.
	saved := n.members
	n.members = append(slices.Clone(saved), jmember{"x-unknown", literalNode(`{"a":[1,null]}`)})
	m.emit(dottedJoin(path, "x-unknown")+":added", dottedJoin(path, "x-unknown"), nil)
	n.members = saved
}

// mutationLiterals are values of every JSON kind, and the empty string.
var mutationLiterals = []string{`null`, `true`, `0`, `1.5`, `"x"`, `""`, `[]`, `{}`, `"not-a-valid-value"`}

// replacements returns the values to put in place of cur (nil for an
// absent member) whose schema is s: a value of every JSON kind, every
// other value of its enum, a minimal valid value and values at the edges
// of its format or range. Values equal to cur are left out.
func replacementsFor(cur *jnode, s map[string]any) []*jnode {
	lits := slices.Clone(mutationLiterals)
	for _, e := range anySlice(s["enum"]) {
		lits = append(lits, string(marshalDeterministic(e)))
	}
	if v, ok := exampleValue(s); ok {
		lits = append(lits, string(marshalDeterministic(v)))
	}
	switch s["format"] {
	case "date-time":
		lits = append(lits,
			`"2026-11-27T10:15:30+01:00"`,     // valid: an offset
			`"2026-11-27T10:15:30.123456Z"`,   // valid: microseconds
			`"2026-11-27t10:15:30.123Z"`,      // RFC 3339 allows a lower-case t
			`"2026-11-27T10:15:30.123z"`,      // and a lower-case z
			`"2016-12-31T23:59:60Z"`,          // and a leap second
			`"0001-01-01T00:00:00Z"`,          // valid RFC 3339, Go's zero time
			`"2026-11-27T10:15:30"`,           // no offset
			`"2026-11-27 10:15:30Z"`,          // no T
			`"2026-11-27"`,                    // a date
			`"2026-02-30T10:15:30Z"`,          // no such day
			`"2026-11-27T10:15:30.123+24:00"`, // no such offset
		)
	case "uuid":
		lits = append(lits,
			`"0B8E3F7C-5D1A-4C9E-9F0A-2F4B8C1D7E6A"`,          // valid: upper case
			`"0b8e3f7c5d1a4c9e9f0a2f4b8c1d7e6a"`,              // no hyphens
			`"{0b8e3f7c-5d1a-4c9e-9f0a-2f4b8c1d7e6a}"`,        // braces
			`"urn:uuid:0b8e3f7c-5d1a-4c9e-9f0a-2f4b8c1d7e6a"`, // a URN
			`"0b8e3f7c-5d1a-4c9e-9f0a-2f4b8c1d7e6"`,           // too short
			`"0b8e3f7c-5d1a-4c9e-9f0a-2f4b8c1d7e6g"`,          // not hex
		)
	}
	switch s["type"] {
	case "integer":
		lits = append(lits, `-1`, `1`, `2`, `3`, `1.0`)
	case "number":
		lits = append(lits, `-273.15`, `1e3`)
	}
	var out []*jnode
	seen := make(map[string]bool)
	for _, lit := range lits {
		n := literalNode(lit)
		key := string(n.encode())
		if seen[key] || cur != nil && key == string(cur.encode()) {
			continue
		}
		seen[key] = true
		out = append(out, n)
	}
	return out
}

// example returns a minimal value valid against s, when s is simple
// enough to make one.
func exampleValue(s map[string]any) (any, bool) {
	if c, ok := s["const"]; ok {
		return c, true
	}
	if e := anySlice(s["enum"]); len(e) > 0 {
		return e[0], true
	}
	switch s["type"] {
	case "string":
		switch s["format"] {
		case "date-time":
			return "2026-11-27T10:15:30.123Z", true
		case "uuid":
			return "9d2c6a4e-1f3b-4c5d-8e7f-0a1b2c3d4e5f", true
		}
		return "example", true
	case "integer":
		if v, ok := s["minimum"]; ok {
			return v, true
		}
		return 1, true
	case "number":
		return 2.5, true
	case "boolean":
		return true, true
	case "array":
		items, _ := s["items"].(map[string]any)
		v, ok := exampleValue(items)
		return []any{v}, ok
	case "object":
		props, _ := s["properties"].(map[string]any)
		obj := make(map[string]any)
		for _, r := range anySlice(s["required"]) {
			name, _ := r.(string)
			ps, _ := props[name].(map[string]any)
			v, ok := exampleValue(ps)
			if !ok {
				return nil, false
			}
			obj[name] = v
		}
		return obj, true
	case nil:
		return map[string]any{"any": []any{1, "json"}}, true
	}
	return nil, false
}

// whole adds the mutations of the document as a whole.
func (m *mutator) whole(et contracts.EventType) {
	root := m.root
	saved := root.clone()
	restore := func() { *root = *saved.clone() }

	for _, lit := range []string{`null`, `true`, `0`, `"x"`, `[]`, `{}`, `[` + string(saved.encode()) + `]`} {
		*root = *literalNode(lit)
		m.emit("document="+shortName(lit), "", root)
		restore()
	}
	set := func(name, lit string) {
		v := literalNode(lit)
		if i := root.index(name); i >= 0 {
			root.members[i].value = v
		} else {
			root.members = append(root.members, jmember{name, v})
		}
		m.emit(name+":set="+lit, name, v)
		restore()
	}
	set("__version", `"v2"`)
	set("__version", `"V1"`)
	set("eventType", `"device.command.unknown"`)
	set("eventType", `"`+strings.ToUpper(string(et))+`"`)

	// Header members of the other kinds are unknown members here: they must
	// be ignored whatever they hold.
	foreign := map[contracts.Kind][]string{
		contracts.KindEvent:    {"expiresAt", "status", "error"},
		contracts.KindCommand:  {"status", "error"},
		contracts.KindResponse: {"expiresAt"},
	}[et.Kind()]
	for _, name := range foreign {
		for _, lit := range []string{`"not-a-valid-value"`, `1`, `{}`} {
			set(name, lit)
		}
	}

	if et.Kind() == contracts.KindResponse {
		set("status", `"error"`) // without error, when the base has none
		set("error", `{"code":"BUSY","message":"busy"}`)
	}

	// Byte strings under an encoding.
	enc := map[contracts.EventType][2]string{
		contracts.TypeIntegrationMQTTReceived: {"payload", "payloadEncoding"},
		contracts.TypeSystemDLQ:               {"raw", "rawEncoding"},
	}
	if pair, ok := enc[et]; ok {
		p := root.members[root.index("payload")].value
		for _, c := range []struct{ body, encoding string }{
			{`"eyJ0IjoxfQ=="`, `"base64"`},   // valid
			{`""`, `"base64"`},               // valid: empty
			{`"eyJ0IjoxfQ"`, `"base64"`},     // no padding
			{`"eyJ0Ijox fQ=="`, `"base64"`},  // a space
			{`"eyJ0\nIjoxfQ=="`, `"base64"`}, // a line break
			{`"eyJ0IjoxfQ=="`, `"utf8"`},     // valid: text that looks like base64
			{`"eyJ0IjoxfQ=="`, `"BASE64"`},   // not an encoding
		} {
			p.members = append(p.members, jmember{pair[1], literalNode(c.encoding)})
			p.members[p.index(pair[0])].value = literalNode(c.body)
			at := "payload." + pair[1]
			m.emit(at+"="+c.encoding+",payload."+pair[0]+"="+c.body, at, nil)
			restore()
			p = root.members[root.index("payload")].value
		}
	}
}

// shorten keeps subtest names readable.
func shortName(s string) string {
	if len(s) > 20 {
		return s[:17] + "..."
	}
	return s
}

func dottedJoin(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func anySlice(v any) []any {
	s, _ := v.([]any)
	return s
}

func marshalDeterministic(v any) []byte {
	b, err := json.Marshal(v, json.Deterministic(true))
	if err != nil {
		panic(err)
	}
	return b
}
