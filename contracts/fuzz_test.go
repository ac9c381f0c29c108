package contracts_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iot-hub/agent/contracts"
)

// FuzzDecode feeds Decode arbitrary bytes, seeded with every golden message
// (testdata/*.json) and the crashers found before (testdata/fuzz). It
// checks that Decode never panics, that every failure is a classified
// *Error, and that every success is a valid message whose canonical
// encoding decodes to itself.
func FuzzDecode(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed corpus in testdata: %v", err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	sentinels := []error{
		contracts.ErrMalformed, contracts.ErrUnsupportedVersion, contracts.ErrUnknownEventType,
		contracts.ErrRequired, contracts.ErrWrongType, contracts.ErrInvalidValue,
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := contracts.Decode(data)
		if err != nil {
			if m != nil {
				t.Fatalf("Decode(%q) = %v and a message", data, err)
			}
			var e *contracts.Error
			if !errors.As(err, &e) {
				t.Fatalf("Decode(%q) error %T is not a *contracts.Error", data, err)
			}
			n := 0
			for _, s := range sentinels {
				if errors.Is(err, s) {
					n++
				}
			}
			if n != 1 && !errors.Is(err, contracts.ErrUnknownMethod) {
				t.Fatalf("Decode(%q) error %v matches %d sentinels; want 1", data, err, n)
			}
			if e.Reason == "" || !strings.HasPrefix(err.Error(), "contracts: ") {
				t.Fatalf("Decode(%q) error %q has no reason", data, err)
			}
			return
		}
		if err := contracts.Validate(m); err != nil {
			t.Fatalf("Decode(%q) gave a message Validate refuses: %v", data, err)
		}
		enc, err := contracts.Encode(m)
		if err != nil {
			t.Fatalf("Encode(Decode(%q)) = %v", data, err)
		}
		m2, err := contracts.Decode(enc)
		if err != nil {
			t.Fatalf("Decode(Encode(Decode(%q))) = %v for %s", data, err, enc)
		}
		enc2, err := contracts.Encode(m2)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not stable:\n%s\n%s (%v)", enc, enc2, err)
		}
	})
}
