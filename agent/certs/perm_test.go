package certs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckPermissions(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) // dir is 0700 with key.pem 0600
		want  []string                       // parts of the message; nil: accepted
	}{
		{"good", func(*testing.T, string) {}, nil},
		{"empty dir", func(t *testing.T, dir string) { rm(t, dir, "key.pem") }, nil},
		{"world-readable key", func(t *testing.T, dir string) { chmod(t, dir, "key.pem", 0o644) },
			[]string{"key.pem has mode 0644, must be 0600", "chmod 600"}},
		{"read-only key", func(t *testing.T, dir string) { chmod(t, dir, "key.pem", 0o400) },
			[]string{"key.pem has mode 0400, must be 0600"}},
		{"setuid key", func(t *testing.T, dir string) { chmod(t, dir, "key.pem", 0o600|os.ModeSetuid) },
			[]string{"key.pem has mode 04600, must be 0600"}},
		{"open dir", func(t *testing.T, dir string) { chmod(t, dir, "", 0o755) },
			[]string{"has mode 0755, must be 0700"}},
		{"open subdir", func(t *testing.T, dir string) {
			if err := os.Mkdir(filepath.Join(dir, "old"), 0o750); err != nil {
				t.Fatal(err)
			}
			chmod(t, dir, "old", 0o750)
		}, []string{"old has mode 0750, must be 0700"}},
		{"symlink", func(t *testing.T, dir string) {
			if err := os.Symlink("/etc/passwd", filepath.Join(dir, "link.pem")); err != nil {
				t.Fatal(err)
			}
		}, []string{"link.pem is a symbolic link, must be a regular file"}},
		{"two offences", func(t *testing.T, dir string) {
			chmod(t, dir, "key.pem", 0o640)
			chmod(t, dir, "", 0o711)
		}, []string{"mode 0711, must be 0700", "key.pem has mode 0640, must be 0600"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			chmod(t, dir, "", 0o700)
			if err := os.WriteFile(filepath.Join(dir, "key.pem"), []byte("k"), 0o600); err != nil {
				t.Fatal(err)
			}
			tt.setup(t, dir)
			err := CheckPermissions(dir)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("CheckPermissions = %v; want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrPermissions) {
				t.Fatalf("CheckPermissions = %v; want %v", err, ErrPermissions)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("CheckPermissions = %q; want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestCheckPermissionsOwner(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to give a file away")
	}
	dir := t.TempDir()
	chmod(t, dir, "", 0o700)
	path := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(path, []byte("k"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	err := CheckPermissions(dir)
	if !errors.Is(err, ErrPermissions) || !strings.Contains(err.Error(), "key.pem is owned by uid 65534, must be owned by the agent's uid 0") {
		t.Fatalf("CheckPermissions = %v; want %v naming the owner", err, ErrPermissions)
	}
}

func TestCheckPermissionsMissing(t *testing.T) {
	err := CheckPermissions(filepath.Join(t.TempDir(), "none"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("CheckPermissions(missing) = %v; want %v", err, os.ErrNotExist)
	}
}

func chmod(t *testing.T, dir, name string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(filepath.Join(dir, name), mode); err != nil {
		t.Fatal(err)
	}
}

func rm(t *testing.T, dir, name string) {
	t.Helper()
	if err := os.Remove(filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}
