package certs

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// journalFile is the store's record of the rotation under way.
const journalFile = "rotation.json"

// Phases of a rotation, as the journal records them.
const (
	phaseAwaiting   = "awaiting-certificate" // the CSR is out; the pending key waits for its certificate
	phaseTrying     = "trying-candidate"     // the candidate is being tried on the uplink
	phaseInstalling = "installing"           // the candidate was accepted; promote it and report
)

// journal is what a rotation must remember across a restart, besides the
// key pairs: which rotation it is (the correlationId that
// certificate.issued must carry), why it started, how often its CSR went
// out, and what it installs. When no rotation is under way it keeps the
// failures since the last success, so that retries back off across
// restarts too.
type journal struct {
	Phase         string `json:"phase,omitempty"`
	CorrelationID string `json:"correlationId,omitempty"`
	Reason        string `json:"reason,omitempty"`
	// CSRs counts the CSRs sent for this rotation; LastCSR is the last.
	CSRs    int       `json:"csrs,omitempty"`
	LastCSR time.Time `json:"lastCsr,omitzero"`
	// The certificate installed, and the one it replaces.
	Serial         string `json:"serial,omitempty"`
	PreviousSerial string `json:"previousSerial,omitempty"`
	// TrialStarted is when the uplink was asked to connect with the
	// candidate.
	TrialStarted time.Time `json:"trialStarted,omitzero"`
	// Failures counts the rotations that failed in a row; NextAttempt is
	// when the next may start, LastError why the last one failed.
	Failures    int       `json:"failures,omitempty"`
	NextAttempt time.Time `json:"nextAttempt,omitzero"`
	LastError   string    `json:"lastError,omitempty"`
}

// loadJournal returns the journal, the zero one when there is none. A
// damaged journal is reported, naming the file; the caller starts over.
func (s *Store) loadJournal() (journal, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	path := filepath.Join(s.dir, journalFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return journal{}, nil
	}
	if err != nil {
		return journal{}, fmt.Errorf("certs: rotation journal: %w", err)
	}
	var j journal
	if err := json.Unmarshal(data, &j); err != nil {
		return journal{}, fmt.Errorf("certs: rotation journal: %s: %w: %w", path, ErrCorrupt, err)
	}
	return j, nil
}

// saveJournal durably replaces the journal.
func (s *Store) saveJournal(j journal) error {
	data, err := json.Marshal(j)
	if err != nil {
		return fmt.Errorf("certs: rotation journal: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := writeFile(s.dir, journalFile, data); err != nil {
		return fmt.Errorf("certs: rotation journal: %w", err)
	}
	return nil
}
