//go:build linux && (amd64 || arm64)

package powercut_test

import (
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/iot-hub/agent/internal/powercut"
)

func TestMain(m *testing.M) {
	if code, served := powercut.Serve(); served {
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// TestSyncedSurvivesUnsyncedGoes: data written and fsynced survives a
// power cut; data written after is lost, the file keeping the size the
// last fsync left; a file created and never synced is there, empty; a
// rename is durable at once.
func TestSyncedSurvivesUnsyncedGoes(t *testing.T) {
	f := powercut.ForTest(t, 1, 0)
	p := filepath.Join(f.Dir(), "a")
	fh, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	synced := bytes.Repeat([]byte("s"), 5000)
	if _, err := fh.Write(synced); err != nil {
		t.Fatal(err)
	}
	if err := fh.Sync(); err != nil {
		t.Fatal(err)
	}
	if _, err := fh.WriteAt(bytes.Repeat([]byte("u"), 9000), 3000); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(p); len(got) != 12000 || got[2999] != 's' || got[3000] != 'u' {
		t.Fatalf("before the cut the file reads %d bytes; want 12000, the unsynced ones over the synced", len(got))
	}
	if err := os.WriteFile(filepath.Join(f.Dir(), "b"), []byte("never synced"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(f.Dir(), "b"), filepath.Join(f.Dir(), "c")); err != nil {
		t.Fatal(err)
	}
	fh.Close()
	if n, err := f.Unsynced(); err != nil || n == 0 {
		t.Fatalf("%d unsynced pages before the cut (%v); want some", n, err)
	}
	if _, _, err := f.PowerCut(false); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(p); err != nil || !bytes.Equal(got, synced) {
		t.Errorf("after the cut the file reads %d bytes (%v); want the 5000 synced", len(got), err)
	}
	if got, err := os.ReadFile(filepath.Join(f.Dir(), "c")); err != nil || len(got) != 0 {
		t.Errorf("the renamed, never synced file reads %q, %v; want it there, empty", got, err)
	}
	if n, err := f.Unsynced(); err != nil || n != 0 {
		t.Errorf("%d unsynced pages after the cut (%v); want 0", n, err)
	}
}

// TestTornWrite: with tear, a cut writes some unsynced pages, whole or
// their first sectors, and never more than was written.
func TestTornWrite(t *testing.T) {
	f := powercut.ForTest(t, 1, 0)
	p := filepath.Join(f.Dir(), "torn")
	if err := os.WriteFile(p, make([]byte, 64*4096), 0o600); err != nil {
		t.Fatal(err)
	}
	fh, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := fh.Sync(); err != nil {
		t.Fatal(err)
	}
	if _, err := fh.WriteAt(bytes.Repeat([]byte{0xAB}, 64*4096), 0); err != nil {
		t.Fatal(err)
	}
	fh.Close()
	dropped, torn, err := f.PowerCut(true)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(p)
	if err != nil || len(got) != 64*4096 {
		t.Fatalf("after the cut: %d bytes, %v; want 64 pages", len(got), err)
	}
	written := 0
	for i := 0; i < len(got); i += 512 {
		sector := got[i : i+512]
		switch {
		case bytes.Equal(sector, bytes.Repeat([]byte{0xAB}, 512)):
			written++
		case !bytes.Equal(sector, make([]byte, 512)):
			t.Fatalf("sector at %d is neither old nor new: a tear is by sectors", i)
		}
	}
	if dropped != 64 || torn == 0 || torn == 64 || written == 0 {
		t.Errorf("dropped %d pages, tore %d, %d sectors written; want 64 dropped, some torn, not all", dropped, torn, written)
	}
}

// TestMmapReadsSeeUnsyncedWrites: a file written with pwrite and read
// through mmap, as bbolt does, reads what was written.
func TestMmapReadsSeeUnsyncedWrites(t *testing.T) {
	f := powercut.ForTest(t, 1, 0)
	fh, err := os.OpenFile(filepath.Join(f.Dir(), "m"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	if err := fh.Truncate(8192); err != nil {
		t.Fatal(err)
	}
	if _, err := fh.WriteAt([]byte("page two"), 4096); err != nil {
		t.Fatal(err)
	}
	m, err := syscall.Mmap(int(fh.Fd()), 0, 8192, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(m)
	if got := string(m[4096 : 4096+8]); got != "page two" {
		t.Errorf("mmap reads %q at 4096; want %q", got, "page two")
	}
}
