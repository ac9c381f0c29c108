package legacy_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/iot-hub/agent/contracts"
)

// now is the time of every test clock.
var now = time.Date(2026, 11, 27, 10, 15, 30, 123e6, time.UTC)

// deviceOrigin is the agent on gw-0042, with a fixed clock.
func deviceOrigin() contracts.Origin {
	o := contracts.DeviceOrigin("gw-0042")
	o.Clock = func() time.Time { return now }
	return o
}

// bridgeOrigin is a bridge that converts legacy commands, with a fixed
// clock.
func bridgeOrigin() contracts.Origin {
	return contracts.Origin{
		Source: contracts.Source{Type: contracts.SourceBridge, ID: "legacy-bridge"},
		Clock:  func() time.Time { return now },
	}
}

// readFile returns the contents of testdata/name.
func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sameJSON reports whether a and b are the same JSON value, whatever their
// formatting and member order.
func sameJSON(t testing.TB, a, b []byte) bool {
	t.Helper()
	return bytes.Equal(canonical(t, a), canonical(t, b))
}

func canonical(t testing.TB, b []byte) []byte {
	t.Helper()
	v := jsontext.Value(bytes.Clone(b))
	if err := v.Canonicalize(); err != nil {
		t.Fatalf("canonicalize %q: %v", b, err)
	}
	return v
}

// checkHeader checks what every decoded message must have: its type, the
// origin's source, the contract version and a valid header.
func checkHeader(t testing.TB, m contracts.Message, o contracts.Origin, want contracts.EventType) {
	t.Helper()
	h := m.Header()
	if h.EventType != want || h.Source != o.Source || h.Version != contracts.Version {
		t.Errorf("header = %+v; want eventType %s, source %+v, version %s", h, want, o.Source, contracts.Version)
	}
	if err := contracts.Validate(m); err != nil {
		t.Errorf("Validate(decoded) = %v; want nil", err)
	}
}

// errorCase is an input a decoder must refuse: the error must match kind
// and contain text.
type errorCase struct {
	name  string
	input string
	kind  error
	text  string
}

// checkError reports whether err is the error tc wants, with the prefix
// every error of the call has.
func checkError(err error, prefix string, tc errorCase) bool {
	return err != nil && errors.Is(err, tc.kind) &&
		strings.HasPrefix(err.Error(), prefix) && strings.Contains(err.Error(), tc.text)
}

// malformedCases are inputs every decoder refuses as malformed JSON.
var malformedCases = []errorCase{
	{"empty", ``, contracts.ErrMalformed, "malformed JSON"},
	{"not JSON", `hello`, contracts.ErrMalformed, "malformed JSON"},
	{"truncated", `{"deviceId":"gw-0042"`, contracts.ErrMalformed, "malformed JSON"},
	{"trailing data", `{} {}`, contracts.ErrMalformed, "malformed JSON"},
	{"array", `[]`, contracts.ErrMalformed, "want a JSON object, got array"},
	{"null", `null`, contracts.ErrMalformed, "want a JSON object, got null"},
	{"string", `"online"`, contracts.ErrMalformed, "want a JSON object, got string"},
	{"duplicate name", `{"deviceId":"a","deviceId":"b"}`, contracts.ErrMalformed, `duplicate object member name "deviceId"`},
	{"duplicate escaped name", `{"deviceId":"a","device\u0049d":"b"}`, contracts.ErrMalformed, "duplicate object member name"},
	{"invalid UTF-8", "{\"deviceId\":\"gw-\xff\"}", contracts.ErrMalformed, "invalid UTF-8"},
}
