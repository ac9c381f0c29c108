package certs

import (
	"crypto"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// rotated returns a store holding current a, previous p and candidate b.
func rotated(t *testing.T, p, a, b pair) *Store {
	t.Helper()
	s := openStore(t)
	for _, x := range []pair{p, a} {
		if err := s.PutCandidate(x.pem, x.key); err != nil {
			t.Fatal(err)
		}
		if err := s.Promote(); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutCandidate(b.pem, b.key); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestPromoteCrash stops Promote after each of its steps, as a crash
// would, reopens the store and checks that current is a usable pair and
// that a retried Promote finishes the rotation.
func TestPromoteCrash(t *testing.T) {
	root := newRoot(t, "root")
	p, a, b := newPair(t, root), newPair(t, root), newPair(t, root)
	steps := len((&Store{}).promoteSteps())
	for done := 0; done <= steps; done++ {
		t.Run("after step "+string(rune('0'+done)), func(t *testing.T) {
			s := rotated(t, p, a, b)
			for _, step := range s.promoteSteps()[:done] {
				if err := step(); err != nil {
					t.Fatal(err)
				}
			}
			s, err := OpenStore(s.Dir())
			if err != nil {
				t.Fatal(err)
			}
			want, wantKey := pemSerial(t, a), a.key
			if done == steps {
				want, wantKey = pemSerial(t, b), b.key
			}
			cur, leaf, err := s.Current()
			if err != nil {
				t.Fatalf("Current() after a crash after step %d: %v", done, err)
			}
			if leaf.SerialNumber.String() != want || !sameKey(cur.PrivateKey.(crypto.Signer).Public(), wantKey.Public()) {
				t.Fatalf("Current() serial = %s; want %s, with its key", leaf.SerialNumber, want)
			}
			if done < steps {
				if err := s.Promote(); err != nil {
					t.Fatalf("Promote() again: %v", err)
				}
			}
			wantSlots(t, s, pemSerial(t, b), "", pemSerial(t, a))
			assertModes(t, s.Dir())
		})
	}
}

// TestPromoteKeepsGoodPrevious: a damaged current is not copied over a
// good previous.
func TestPromoteKeepsGoodPrevious(t *testing.T) {
	root := newRoot(t, "root")
	p, a, b := newPair(t, root), newPair(t, root), newPair(t, root)
	s := rotated(t, p, a, b)
	if err := os.WriteFile(filepath.Join(s.Dir(), currentFile), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Promote(); err != nil {
		t.Fatal(err)
	}
	wantSlots(t, s, pemSerial(t, b), "", pemSerial(t, p))
}

// TestPromoteCorruptCandidate: a damaged candidate is refused and
// nothing changes; Rollback clears it.
func TestPromoteCorruptCandidate(t *testing.T) {
	root := newRoot(t, "root")
	p, a, b := newPair(t, root), newPair(t, root), newPair(t, root)
	s := rotated(t, p, a, b)
	path := filepath.Join(s.Dir(), candidateFile)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data[:len(data)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Promote(); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Promote() with a torn candidate = %v; want %v", err, ErrCorrupt)
	}
	if err := s.Rollback(); err != nil {
		t.Fatal(err)
	}
	wantSlots(t, s, pemSerial(t, a), "", pemSerial(t, p))
}

// TestRecoverTempFiles: a write interrupted before its rename leaves a
// temporary file that OpenStore removes; the slot keeps its old pair.
func TestRecoverTempFiles(t *testing.T) {
	root := newRoot(t, "root")
	p, a, b := newPair(t, root), newPair(t, root), newPair(t, root)
	s := rotated(t, p, a, b)
	tmp := filepath.Join(s.Dir(), "."+currentFile+".tmp-12345") // as atomicfile.WriteFile names them
	if err := os.WriteFile(tmp, b.pem[:10], 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := OpenStore(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary file after OpenStore: %v; want it removed", err)
	}
	wantSlots(t, s, pemSerial(t, a), pemSerial(t, b), pemSerial(t, p))
}

// TestRecoverPending: PutCandidate crashed after writing the candidate,
// before removing the pending key; OpenStore removes it. A pending key
// of another rotation stays.
func TestRecoverPending(t *testing.T) {
	root := newRoot(t, "root")
	a := newPair(t, root)
	s := openStore(t)
	if err := s.PutPending(a.key); err != nil {
		t.Fatal(err)
	}
	data, err := encodePair([][]byte{mustChain(t, a.pem)}, a.key)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeFile(s.Dir(), candidateFile, data); err != nil { // PutCandidate's first step
		t.Fatal(err)
	}
	s, err = OpenStore(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pending(); !errors.Is(err, ErrNotFound) {
		t.Errorf("Pending() after recovery = %v; want %v", err, ErrNotFound)
	}

	other := mustKey(t, "")
	if err := s.PutPending(other); err != nil {
		t.Fatal(err)
	}
	s, err = OpenStore(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if k, err := s.Pending(); err != nil || !sameKey(k.Public(), other.Public()) {
		t.Errorf("Pending() = %v; want the other rotation's key kept", err)
	}
}
