package update

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/iot-hub/agent/internal/atomicfile"
)

// SlotEnv names the environment variable the packaged binary sets to the
// slot it starts ("a" or "b"): a binary that finds it set is the slot's,
// and does not start another.
const SlotEnv = "IOT_HUB_AGENT_SLOT"

// MaxStarts is how many times an installed binary on trial may start: one
// that stops (crashes, exits) before it connects is rolled back at the
// start after.
const MaxStarts = 3

// Slots are the two places for installed binaries, stateDir/agent/a and
// b, and slots.json, which says which one runs. Every change of
// slots.json is one atomic write; a binary is in its slot, complete and
// synced, before slots.json names it.
type Slots struct {
	dir string
}

// State is slots.json.
type State struct {
	// Current is the slot that runs, "a" or "b"; "" is the packaged
	// binary.
	Current string `json:"current"`
	// Previous is what Current replaced, the one a rollback goes back to.
	Previous string `json:"previous"`
	// Versions are the installed binaries' versions, by slot.
	Versions map[string]string `json:"versions,omitempty"`
	// Packaged is the packaged binary's SHA-256 when Current was
	// installed: a package upgraded since then wins over the slot.
	Packaged string `json:"packaged,omitempty"`
	// Trial is Current's trial; nil once it connected.
	Trial *Trial `json:"trial,omitempty"`
	// RolledBack is the last trial that failed, until reported.
	RolledBack *RolledBack `json:"rolledBack,omitempty"`
}

// Trial is an installed binary on trial, and what its audit events carry.
type Trial struct {
	Slot          string        `json:"slot"`
	Version       string        `json:"version"`
	CorrelationID string        `json:"correlationId"`
	RequestedBy   string        `json:"requestedBy"`
	RollbackAfter time.Duration `json:"rollbackAfterNs"`
	Starts        int           `json:"starts"`
}

// RolledBack is a trial that failed, and why.
type RolledBack struct {
	Trial
	Reason string `json:"reason"`
}

// OpenSlots returns the slots in stateDir, making their directory.
func OpenSlots(stateDir string) (*Slots, error) {
	dir := filepath.Join(stateDir, "agent")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("update: %w", err)
	}
	return &Slots{dir: dir}, nil
}

// Path is the file of a slot's binary.
func (s *Slots) Path(slot string) string { return filepath.Join(s.dir, slot) }

// Load reads slots.json; none is the packaged binary running.
func (s *Slots) Load() (State, error) {
	var st State
	b, err := os.ReadFile(filepath.Join(s.dir, "slots.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err == nil {
		err = json.Unmarshal(b, &st)
	}
	if err != nil {
		return st, fmt.Errorf("update: slots.json: %w", err)
	}
	return st, nil
}

func (s *Slots) save(st State) error {
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("update: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(s.dir, "slots.json"), append(b, '\n')); err != nil {
		return fmt.Errorf("update: %w", err)
	}
	return nil
}

// Inactive is the slot a new binary goes to: the one that does not run.
func (st State) Inactive() string {
	if st.Current == "a" {
		return "b"
	}
	return "a"
}

// Install puts the verified binary at download into the inactive slot
// and makes it Current, on trial for t, from the next start; packaged
// is the packaged binary's SHA-256 (PackagedSHA256).
func (s *Slots) Install(download string, t Trial, packaged string) error {
	st, err := s.Load()
	if err != nil {
		return err
	}
	if st.Trial != nil {
		return fmt.Errorf("update: version %s is on trial", st.Trial.Version)
	}
	t.Slot, t.Starts = st.Inactive(), 0
	if err := os.Chmod(download, 0o700); err != nil {
		return fmt.Errorf("update: %w", err)
	}
	if err := atomicfile.Rename(download, s.Path(t.Slot)); err != nil {
		return fmt.Errorf("update: %w", err)
	}
	if st.Versions == nil {
		st.Versions = map[string]string{}
	}
	st.Previous, st.Current, st.Packaged, st.Trial = st.Current, t.Slot, packaged, &t
	st.Versions[t.Slot] = t.Version
	return s.save(st)
}

// Launch is what the packaged binary starts.
type Launch struct {
	// Slot is the slot to start, "" for the packaged binary itself.
	Slot string
	// Note says what Begin did that the log should say.
	Note string
}

// Begin decides, in the packaged binary as it starts, which binary runs,
// counting a start of one on trial: a trial that has started MaxStarts
// times is rolled back first. A package upgraded since the slot's
// install (packaged differs) wins over it.
func (s *Slots) Begin(packaged string) (Launch, error) {
	st, err := s.Load()
	if err != nil || st.Current == "" {
		return Launch{}, err
	}
	if st.Packaged != packaged {
		st.Current, st.Previous, st.Trial = "", "", nil
		return Launch{Note: "the package was upgraded since an update was installed: the packaged binary runs"}, s.save(st)
	}
	note := ""
	if t := st.Trial; t != nil {
		if t.Starts >= MaxStarts {
			reason := fmt.Sprintf("version %s stopped %d times before it connected", t.Version, t.Starts)
			st = rolledBack(st, reason)
			note = "update rolled back: " + reason
		} else {
			t.Starts++
		}
		if err := s.save(st); err != nil {
			return Launch{}, err
		}
	}
	return Launch{Slot: st.Current, Note: note}, nil
}

// rolledBack is st with its trial rolled back for reason.
func rolledBack(st State, reason string) State {
	st.RolledBack = &RolledBack{Trial: *st.Trial, Reason: reason}
	st.Current, st.Previous, st.Trial = st.Previous, "", nil
	return st
}

// RollBack ends the trial with the binary before it, for reason; the
// next start runs that one.
func (s *Slots) RollBack(reason string) error {
	st, err := s.Load()
	if err != nil || st.Trial == nil {
		return err
	}
	return s.save(rolledBack(st, reason))
}

// Confirm ends the trial: the binary connected, and stays.
func (s *Slots) Confirm() error {
	st, err := s.Load()
	if err != nil || st.Trial == nil {
		return err
	}
	st.Trial = nil
	return s.save(st)
}

// ClearRolledBack forgets the rolled-back trial, once reported.
func (s *Slots) ClearRolledBack() error {
	st, err := s.Load()
	if err != nil || st.RolledBack == nil {
		return err
	}
	st.RolledBack = nil
	return s.save(st)
}

// PackagedSHA256 is the SHA-256 of the binary at path, hex.
func PackagedSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
