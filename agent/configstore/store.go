// Package configstore keeps the configuration setConfig gives the agent,
// and its trial.
//
// The configuration file the agent is started with (/etc/iot-hub-agent/
// agent.yaml under the package's unit) is read-only to it
// (ProtectSystem=strict), so a configuration set remotely is kept in the
// state directory, in config/:
//
//	agent.yaml     the configuration set last, run instead of the started
//	               file while that file is as it was when it was set
//	               (base.sha256): an administrator's later edit wins
//	base.sha256    the started file's SHA-256 when agent.yaml was set
//	previous.yaml  the configuration agent.yaml replaced, when it was one
//	               set remotely too (else the started file is the previous)
//	trial.json     a new configuration on trial: who asked, the command's
//	               correlationId, its agent.yaml's SHA-256, how long it has
//	               to connect, how many times it has started
//	rolledback.json  a trial that failed, to be reported once the agent
//	               runs again (the audit event), then removed
//
// Every file is replaced atomically, and written in an order that a kill
// or a power cut between any two steps leaves either the old configuration
// running or the new one on trial (see Stage).
package configstore

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/iot-hub/agent/internal/atomicfile"
)

// The files of the store's directory.
const (
	managedFile    = "agent.yaml"
	baseFile       = "base.sha256"
	previousFile   = "previous.yaml"
	trialFile      = "trial.json"
	rolledBackFile = "rolledback.json"
)

// MaxStarts is how many times a configuration on trial may start: a
// configuration with which the agent exits (crashes, fails to open a part)
// before it connects is rolled back at the start after, by itself.
const MaxStarts = 3

// Trial is a configuration on trial, and what its audit events carry.
type Trial struct {
	// CorrelationID is the setConfig command's.
	CorrelationID string `json:"correlationId"`
	// RequestedBy is the command's requestedBy.
	RequestedBy string `json:"requestedBy"`
	// RollbackAfter is how long each start of the new configuration has
	// to connect its uplink before it is rolled back.
	RollbackAfter time.Duration `json:"rollbackAfterNs"`
	// SHA256 is the new configuration's (agent.yaml's) SHA-256, hex.
	SHA256 string `json:"sha256"`
	// Starts is how many times the agent has started with it.
	Starts int `json:"starts"`
}

// RolledBack is a trial that failed: the trial and why.
type RolledBack struct {
	Trial
	// Reason says why it was rolled back.
	Reason string `json:"reason"`
}

// Store is the directory that keeps the remotely set configuration of an
// agent started with the file at startedPath.
type Store struct {
	dir         string
	startedPath string
}

// Open returns the store in stateDir for an agent started with the
// configuration file at startedPath. It makes the directory when it is
// missing.
func Open(stateDir, startedPath string) (*Store, error) {
	dir := filepath.Join(stateDir, "config")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("configstore: %w", err)
	}
	return &Store{dir: dir, startedPath: startedPath}, nil
}

func (s *Store) path(name string) string { return filepath.Join(s.dir, name) }

// Start is what the agent runs as it starts.
type Start struct {
	// Path is the configuration file to run: the started one, or the
	// store's agent.yaml.
	Path string
	// Trial is the configuration's trial, Starts counting this start; nil
	// when it is not on trial.
	Trial *Trial
	// Note, when set, says what the store did or found that the log
	// should say: a trial rolled back, an interrupted setConfig dropped, a
	// remote configuration no longer run because the started file
	// changed.
	Note string
}

// Begin decides which configuration the agent runs as it starts, and
// counts a start of a configuration on trial. A trial whose configuration
// has started MaxStarts times already is rolled back first; so is a
// trial whose agent.yaml is not the one it was staged with (a setConfig
// interrupted before it wrote it, which then never ran).
func (s *Store) Begin() (Start, error) {
	t, err := s.trial()
	if err != nil {
		return Start{}, err
	}
	if t != nil {
		sum, err := fileSHA256(s.path(managedFile))
		switch {
		case err != nil && !errors.Is(err, fs.ErrNotExist):
			return Start{}, fmt.Errorf("configstore: %w", err)
		case sum != t.SHA256:
			if err := s.remove(trialFile); err != nil {
				return Start{}, err
			}
			t = nil
		case t.Starts >= MaxStarts:
			reason := fmt.Sprintf("the agent stopped %d times with it before connecting", t.Starts)
			if err := s.RollBack(reason); err != nil {
				return Start{}, err
			}
			st, err := s.Begin()
			st.Note = "configuration rolled back: " + reason
			return st, err
		default:
			t.Starts++
			if err := s.writeJSON(trialFile, t); err != nil {
				return Start{}, err
			}
		}
	}
	managed, note, err := s.managedIsCurrent()
	if err != nil {
		return Start{}, err
	}
	if !managed {
		if t != nil { // the started file changed during the trial: it wins
			if err := s.remove(trialFile); err != nil {
				return Start{}, err
			}
		}
		return Start{Path: s.startedPath, Note: note}, nil
	}
	return Start{Path: s.path(managedFile), Trial: t}, nil
}

// managedIsCurrent reports whether agent.yaml is there and was set
// against the started file as it is now; when it is there but the
// started file changed since, a note says so.
func (s *Store) managedIsCurrent() (bool, string, error) {
	if _, err := os.Stat(s.path(managedFile)); errors.Is(err, fs.ErrNotExist) {
		return false, "", nil
	}
	base, err := os.ReadFile(s.path(baseFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, "", fmt.Errorf("configstore: %w", err)
	}
	now, err := fileSHA256(s.startedPath)
	if err != nil {
		return false, "", fmt.Errorf("configstore: %w", err)
	}
	if string(bytes.TrimSpace(base)) != now {
		return false, fmt.Sprintf("%s changed since the configuration in %s was set remotely: it runs instead", s.startedPath, s.path(managedFile)), nil
	}
	return true, "", nil
}

// Stage puts config, validated by the caller, on trial for t's command:
// the agent runs it from its next start, and rolls it back unless it
// connects within t.RollbackAfter at each of at most MaxStarts starts.
// The steps, each durable before the next: the configuration it replaces
// is kept as previous.yaml (when it is a remote one); trial.json names
// the new one by its SHA-256; base.sha256 and agent.yaml are written. A
// kill before agent.yaml is written leaves a trial Begin drops, the old
// configuration still running; after, the new one on trial.
func (s *Store) Stage(config []byte, t Trial) error {
	running, _, err := s.managedIsCurrent()
	if err != nil {
		return err
	}
	if running {
		old, err := os.ReadFile(s.path(managedFile))
		if err != nil {
			return fmt.Errorf("configstore: %w", err)
		}
		if err := s.write(previousFile, old); err != nil {
			return err
		}
	} else if err := s.remove(previousFile); err != nil {
		return err
	}
	sum := sha256.Sum256(config)
	t.SHA256, t.Starts = hex.EncodeToString(sum[:]), 0
	if err := s.writeJSON(trialFile, t); err != nil {
		return err
	}
	base, err := fileSHA256(s.startedPath)
	if err != nil {
		return fmt.Errorf("configstore: %w", err)
	}
	if err := s.write(baseFile, []byte(base+"\n")); err != nil {
		return err
	}
	return s.write(managedFile, config)
}

// OnTrial returns the trial in progress, or nil.
func (s *Store) OnTrial() (*Trial, error) { return s.trial() }

// Confirm ends the trial: the configuration connected, and stays.
func (s *Store) Confirm() error { return s.remove(trialFile) }

// RollBack ends the trial with the configuration before it, for reason:
// previous.yaml becomes agent.yaml again, or, when the started file was
// the previous configuration, agent.yaml goes. rolledback.json keeps the
// trial and reason for the next run's audit event (see TakeRolledBack).
// The order: rolledback.json, the configuration, then trial.json, so a
// kill in between rolls back again at the next start.
func (s *Store) RollBack(reason string) error {
	t, err := s.trial()
	if err != nil || t == nil {
		return err
	}
	if err := s.writeJSON(rolledBackFile, RolledBack{Trial: *t, Reason: reason}); err != nil {
		return err
	}
	switch prev, err := os.ReadFile(s.path(previousFile)); {
	case err == nil:
		if err := s.write(managedFile, prev); err != nil {
			return err
		}
	case errors.Is(err, fs.ErrNotExist):
		if err := s.remove(managedFile); err != nil {
			return err
		}
	default:
		return fmt.Errorf("configstore: %w", err)
	}
	return s.remove(trialFile)
}

// RolledBackTrial returns the trial rolled back and not reported yet, or
// nil. Report it, then Clear it.
func (s *Store) RolledBackTrial() (*RolledBack, error) {
	var r RolledBack
	ok, err := s.readJSON(rolledBackFile, &r)
	if !ok || err != nil {
		return nil, err
	}
	return &r, nil
}

// ClearRolledBack forgets the rolled-back trial, once reported.
func (s *Store) ClearRolledBack() error { return s.remove(rolledBackFile) }

func (s *Store) trial() (*Trial, error) {
	var t Trial
	ok, err := s.readJSON(trialFile, &t)
	if !ok || err != nil {
		return nil, err
	}
	return &t, nil
}

func (s *Store) readJSON(name string, v any) (bool, error) {
	b, err := os.ReadFile(s.path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err == nil {
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		return false, fmt.Errorf("configstore: %s: %w", s.path(name), err)
	}
	return true, nil
}

func (s *Store) writeJSON(name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("configstore: %w", err)
	}
	return s.write(name, append(b, '\n'))
}

func (s *Store) write(name string, data []byte) error {
	if err := atomicfile.WriteFile(s.path(name), data); err != nil {
		return fmt.Errorf("configstore: %w", err)
	}
	return nil
}

func (s *Store) remove(name string) error {
	err := os.Remove(s.path(name))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("configstore: %w", err)
	}
	if err == nil {
		if err := atomicfile.SyncDir(s.dir); err != nil {
			return fmt.Errorf("configstore: %w", err)
		}
	}
	return nil
}

// fileSHA256 returns the SHA-256 of the file at path, hex.
func fileSHA256(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}
