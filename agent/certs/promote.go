package certs

import (
	"fmt"
	"os"
	"path/filepath"
)

// Promote makes the candidate the current pair and the old current the
// previous one. Call it once a connection with the candidate succeeded.
// The error wraps ErrNotFound if there is no candidate, ErrCorrupt if it
// is damaged (then nothing changes; Rollback drops it).
//
// The steps keep a usable current pair through a crash at any point:
//
//  1. check that the candidate decodes;
//  2. copy current to previous (write a temporary file, fsync, rename,
//     fsync the directory); skipped when there is no current or it is
//     damaged, so a good previous is never replaced by garbage;
//  3. rename candidate over current, fsync the directory.
//
// After a crash before step 3, current is the old pair and the candidate
// is still there: Promote again. Step 3 is one atomic rename: current is
// the old pair or the new one, never none or a mix.
func (s *Store) Promote() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, step := range s.promoteSteps() {
		if err := step(); err != nil {
			return fmt.Errorf("certs: promote: %w", err)
		}
	}
	return nil
}

// promoteSteps returns Promote's steps, for tests to crash between them.
func (s *Store) promoteSteps() []func() error {
	return []func() error{
		func() error {
			_, _, err := s.load(candidateFile)
			return err
		},
		func() error {
			data, err := os.ReadFile(filepath.Join(s.dir, currentFile))
			if err != nil {
				return nil // nothing worth keeping
			}
			if _, _, err := decodePair(data); err != nil {
				return nil // nor here
			}
			return writeFile(s.dir, previousFile, data)
		},
		func() error { return renameFile(s.dir, candidateFile, currentFile) },
	}
}

// Rollback drops the candidate, durably; current is untouched. Call it
// when a connection with the candidate failed. Without a candidate it
// does nothing.
func (s *Store) Rollback() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := removeFile(s.dir, candidateFile); err != nil {
		return fmt.Errorf("certs: rollback: %w", err)
	}
	return nil
}
