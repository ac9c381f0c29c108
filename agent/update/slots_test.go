package update_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/update"
)

func install(t *testing.T, s *update.Slots, version, packaged string) {
	t.Helper()
	dl := filepath.Join(t.TempDir(), "download")
	if err := os.WriteFile(dl, []byte("binary "+version), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Install(dl, update.Trial{Version: version, CorrelationID: "c-" + version, RollbackAfter: time.Minute}, packaged); err != nil {
		t.Fatal(err)
	}
}

func begin(t *testing.T, s *update.Slots, packaged string) (update.Launch, update.State) {
	t.Helper()
	l, err := s.Begin(packaged)
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	return l, st
}

func TestSlotsInstallConfirmAndRollBack(t *testing.T) {
	s, err := update.OpenSlots(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if l, _ := begin(t, s, "pkg1"); l.Slot != "" {
		t.Fatalf("nothing installed: Begin = %+v; want the packaged binary", l)
	}
	install(t, s, "v2", "pkg1")
	l, st := begin(t, s, "pkg1")
	if l.Slot != "a" || st.Trial == nil || st.Trial.Starts != 1 || st.Trial.Version != "v2" {
		t.Fatalf("after Install: Begin = %+v, state %+v; want slot a on trial, first start", l, st)
	}
	if b, _ := os.ReadFile(s.Path("a")); string(b) != "binary v2" {
		t.Fatalf("slot a holds %q", b)
	}
	if err := s.Confirm(); err != nil {
		t.Fatal(err)
	}
	install(t, s, "v3", "pkg1")
	if l, st = begin(t, s, "pkg1"); l.Slot != "b" || st.Previous != "a" {
		t.Fatalf("second install: Begin = %+v, state %+v; want slot b, a before it", l, st)
	}
	if err := s.RollBack("did not connect within 1m0s"); err != nil {
		t.Fatal(err)
	}
	l, st = begin(t, s, "pkg1")
	if l.Slot != "a" || st.Trial != nil || st.RolledBack == nil || st.RolledBack.Version != "v3" || st.RolledBack.CorrelationID != "c-v3" {
		t.Fatalf("after RollBack: Begin = %+v, state %+v; want slot a again, v3's trial rolled back", l, st)
	}
	if err := s.ClearRolledBack(); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.Load(); st.RolledBack != nil {
		t.Fatal("ClearRolledBack kept it")
	}
}

func TestSlotsRollBackAfterMaxStarts(t *testing.T) {
	s, _ := update.OpenSlots(t.TempDir())
	install(t, s, "v2", "pkg1")
	for i := 1; i <= update.MaxStarts; i++ {
		if l, st := begin(t, s, "pkg1"); l.Slot != "a" || st.Trial.Starts != i {
			t.Fatalf("start %d: Begin = %+v, state %+v", i, l, st)
		}
	}
	l, st := begin(t, s, "pkg1")
	if l.Slot != "" || !strings.Contains(l.Note, "rolled back") || st.RolledBack == nil || !strings.Contains(st.RolledBack.Reason, "stopped 3 times") {
		t.Fatalf("start %d: Begin = %+v, state %+v; want the packaged binary, rolled back", update.MaxStarts+1, l, st)
	}
}

func TestSlotsPackageUpgradeWins(t *testing.T) {
	s, _ := update.OpenSlots(t.TempDir())
	install(t, s, "v2", "pkg1")
	begin(t, s, "pkg1")
	if err := s.Confirm(); err != nil {
		t.Fatal(err)
	}
	l, _ := begin(t, s, "pkg2")
	if l.Slot != "" || !strings.Contains(l.Note, "package was upgraded") {
		t.Fatalf("after a package upgrade: Begin = %+v; want the packaged binary, said", l)
	}
}
