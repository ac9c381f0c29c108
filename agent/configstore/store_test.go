package configstore_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/configstore"
)

// rig is a state directory and a started configuration file.
type rig struct {
	t       *testing.T
	state   string
	started string
	store   *configstore.Store
}

func newRig(t *testing.T) *rig {
	dir := t.TempDir()
	r := &rig{t: t, state: filepath.Join(dir, "state"), started: filepath.Join(dir, "agent.yaml")}
	write(t, r.started, "deviceId: gw-1 # started\n")
	s, err := configstore.Open(r.state, r.started)
	if err != nil {
		t.Fatal(err)
	}
	r.store = s
	return r
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// begin runs Begin and returns the content of the file it chose.
func (r *rig) begin() (configstore.Start, string) {
	r.t.Helper()
	st, err := r.store.Begin()
	if err != nil {
		r.t.Fatal(err)
	}
	b, err := os.ReadFile(st.Path)
	if err != nil {
		r.t.Fatal(err)
	}
	return st, string(b)
}

func (r *rig) stage(config string) {
	r.t.Helper()
	if err := r.store.Stage([]byte(config), configstore.Trial{CorrelationID: "c-" + config[:4], RequestedBy: "ops", RollbackAfter: time.Minute}); err != nil {
		r.t.Fatal(err)
	}
}

func TestStartsWithTheStartedFileUntilOneIsSet(t *testing.T) {
	r := newRig(t)
	st, got := r.begin()
	if st.Path != r.started || st.Trial != nil || st.Note != "" {
		t.Fatalf("Begin = %+v; want the started file, no trial", st)
	}
	if !strings.Contains(got, "# started") {
		t.Fatalf("runs %q", got)
	}
}

func TestTrialConfirmed(t *testing.T) {
	r := newRig(t)
	r.stage("deviceId: gw-1 # new\n")
	st, got := r.begin()
	if got != "deviceId: gw-1 # new\n" || st.Trial == nil || st.Trial.Starts != 1 || st.Trial.CorrelationID != "c-devi" || st.Trial.RequestedBy != "ops" {
		t.Fatalf("Begin = %+v running %q; want the new one on trial, first start", st, got)
	}
	if err := r.store.Confirm(); err != nil {
		t.Fatal(err)
	}
	st, got = r.begin()
	if got != "deviceId: gw-1 # new\n" || st.Trial != nil {
		t.Fatalf("after Confirm: Begin = %+v running %q; want the new one, no trial", st, got)
	}
}

func TestRollBackToTheStartedFile(t *testing.T) {
	r := newRig(t)
	r.stage("deviceId: gw-1 # broken\n")
	r.begin()
	if err := r.store.RollBack("not connected within 1m0s"); err != nil {
		t.Fatal(err)
	}
	st, got := r.begin()
	if st.Path != r.started || st.Trial != nil || !strings.Contains(got, "# started") {
		t.Fatalf("after RollBack: Begin = %+v running %q; want the started file", st, got)
	}
	rb, err := r.store.RolledBackTrial()
	if err != nil || rb == nil || rb.Reason != "not connected within 1m0s" || rb.CorrelationID != "c-devi" {
		t.Fatalf("RolledBackTrial = %+v, %v", rb, err)
	}
	if err := r.store.ClearRolledBack(); err != nil {
		t.Fatal(err)
	}
	if rb, err := r.store.RolledBackTrial(); rb != nil || err != nil {
		t.Fatalf("after ClearRolledBack: %+v, %v", rb, err)
	}
}

func TestRollBackToThePreviousRemoteOne(t *testing.T) {
	r := newRig(t)
	r.stage("deviceId: gw-1 # good\n")
	r.begin()
	if err := r.store.Confirm(); err != nil {
		t.Fatal(err)
	}
	r.stage("deviceId: gw-1 # broken\n")
	r.begin()
	if err := r.store.RollBack("x"); err != nil {
		t.Fatal(err)
	}
	if _, got := r.begin(); got != "deviceId: gw-1 # good\n" {
		t.Fatalf("after RollBack runs %q; want the good one set before", got)
	}
}

func TestRolledBackAfterMaxStarts(t *testing.T) {
	r := newRig(t)
	r.stage("deviceId: gw-1 # crashes\n")
	for i := 1; i <= configstore.MaxStarts; i++ {
		st, got := r.begin()
		if st.Trial == nil || st.Trial.Starts != i || !strings.Contains(got, "# crashes") {
			t.Fatalf("start %d: Begin = %+v running %q", i, st, got)
		}
	}
	st, got := r.begin()
	if st.Trial != nil || !strings.Contains(got, "# started") || !strings.Contains(st.Note, "rolled back") {
		t.Fatalf("start %d: Begin = %+v running %q; want rolled back, said", configstore.MaxStarts+1, st, got)
	}
	if rb, _ := r.store.RolledBackTrial(); rb == nil || !strings.Contains(rb.Reason, "stopped 3 times") {
		t.Fatalf("RolledBackTrial = %+v", rb)
	}
}

// A kill after trial.json and before agent.yaml: the trial names a
// configuration that was never written; the old one runs, not on trial.
func TestInterruptedStageIsDropped(t *testing.T) {
	r := newRig(t)
	r.stage("deviceId: gw-1 # good\n")
	r.begin()
	if err := r.store.Confirm(); err != nil {
		t.Fatal(err)
	}
	r.stage("deviceId: gw-1 # new\n")
	// The kill: agent.yaml as it was before the second Stage wrote it.
	write(t, filepath.Join(r.state, "config", "agent.yaml"), "deviceId: gw-1 # good\n")
	st, got := r.begin()
	if st.Trial != nil || got != "deviceId: gw-1 # good\n" {
		t.Fatalf("Begin = %+v running %q; want the good one, no trial", st, got)
	}
}

// An administrator's edit of the started file wins over the remote one.
func TestEditedStartedFileWins(t *testing.T) {
	r := newRig(t)
	r.stage("deviceId: gw-1 # remote\n")
	r.begin()
	if err := r.store.Confirm(); err != nil {
		t.Fatal(err)
	}
	write(t, r.started, "deviceId: gw-1 # edited by hand\n")
	st, got := r.begin()
	if st.Path != r.started || !strings.Contains(got, "edited by hand") || !strings.Contains(st.Note, "changed since") {
		t.Fatalf("Begin = %+v running %q; want the edited file, said", st, got)
	}
}
