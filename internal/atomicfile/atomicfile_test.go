package atomicfile_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/iot-hub/agent/internal/atomicfile"
)

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	for _, content := range []string{"first", "second, longer than the first"} {
		if err := atomicfile.WriteFile(path, []byte(content)); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != content {
			t.Fatalf("after WriteFile(%q): %q, %v", content, got, err)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v; want 0600", fi.Mode().Perm())
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Errorf("the directory holds %v, %v; want the file alone, no temporary left", entries, err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, "missing", "x"), nil); err == nil {
		t.Error("WriteFile into a missing directory succeeded")
	}
}

func TestIsTemp(t *testing.T) {
	for name, want := range map[string]bool{
		".current.pem.tmp-12345": true,
		"current.pem":            false,
		".hidden":                false,
		"x.tmp-1":                false,
	} {
		if got := atomicfile.IsTemp(name); got != want {
			t.Errorf("IsTemp(%q) = %v; want %v", name, got, want)
		}
	}
}

// TestRename renames a file over another in the same directory: the new
// name has the content, the old name is gone; a missing source fails.
func TestRename(t *testing.T) {
	dir := t.TempDir()
	from, to := filepath.Join(dir, "from"), filepath.Join(dir, "to")
	for path, content := range map[string]string{from: "new", to: "old"} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := atomicfile.Rename(from, to); err != nil {
		t.Fatalf("Rename = %v", err)
	}
	if got, err := os.ReadFile(to); err != nil || string(got) != "new" {
		t.Errorf("after Rename, to holds %q, %v; want \"new\"", got, err)
	}
	if _, err := os.Stat(from); !os.IsNotExist(err) {
		t.Errorf("after Rename, from: %v; want it gone", err)
	}
	if err := atomicfile.Rename(from, to); err == nil {
		t.Error("Rename of a missing file succeeded")
	}
}
