//go:build linux && (amd64 || arm64)

package certs

import (
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/iot-hub/agent/internal/powercut"
)

// TestPowerCutPromote cuts the power, 60 times, under a child that
// rotates the pair again and again (a new key, PutCandidate, Promote) on
// internal/powercut's filesystem, which drops what was not fsynced (see
// agent/outbox's TestPowerCut). After each cut the store must open with a
// current pair that decodes and whose key matches its certificate, the
// last one Promote returned for or a later one; the candidate and the
// previous pair, when there, decode too.
func TestPowerCutPromote(t *testing.T) {
	const cuts = 60
	fsys := powercut.ForTest(t, uint64(time.Now().UnixNano()), 2*time.Millisecond)
	dir := filepath.Join(fsys.Dir(), "certs")
	rng := mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), 7))
	next, promotions := int64(1), 0
	var dropped, torn int
	for cut := range cuts {
		promoted := runPromoteChild(t, dir, next, rng, fsys)
		d, tr, err := fsys.PowerCut(cut%2 == 1)
		if err != nil {
			t.Fatal(err)
		}
		dropped, torn = dropped+d, torn+tr
		s, err := OpenStore(dir)
		if err != nil {
			t.Fatalf("cut %d: OpenStore: %v", cut+1, err)
		}
		_, leaf, err := s.Current()
		if err != nil {
			t.Fatalf("cut %d, after Promote returned for serial %d: Current: %v", cut+1, promoted, err)
		}
		if got := leaf.SerialNumber.Int64(); got < promoted {
			t.Fatalf("cut %d: the current pair is serial %d; Promote had returned for %d", cut+1, got, promoted)
		}
		for _, load := range []func() (tls.Certificate, *x509.Certificate, error){s.Candidate, s.Previous} {
			if _, _, err := load(); err != nil && !errors.Is(err, ErrNotFound) {
				t.Fatalf("cut %d: %v", cut+1, err)
			}
		}
		next = leaf.SerialNumber.Int64() + 100 // past any candidate the child made
		promotions++
	}
	t.Logf("%d power cuts during rotations, dropping %d unsynced pages, %d of them written torn or whole: each left a current pair that matches, no older than the last promoted", promotions, dropped, torn)
}

// runPromoteChild starts a child rotating the store in dir from serial
// start and cuts the power under it, after its first promotion and a
// random delay. It returns the last serial Promote returned for.
func runPromoteChild(t *testing.T, dir string, start int64, rng *mrand.Rand, fsys *powercut.Proc) int64 {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envPromoteChild+"="+dir, envPromoteStart+"="+strconv.FormatInt(start, 10))
	last, err := fsys.RunWriter(cmd, "P", time.Duration(rng.Int64N(int64(20*time.Millisecond))))
	if err != nil {
		t.Fatal(err)
	}
	return int64(last)
}

// The child of TestPowerCutPromote is told what to do by its environment.
const (
	envPromoteChild = "CERTS_POWERCUT_CHILD" // the store's directory
	envPromoteStart = "CERTS_POWERCUT_START" // the first serial
)

// servePowerCut runs, in place of the tests, the filesystem's server or
// the child of TestPowerCutPromote, when this binary was started as one.
func servePowerCut() (int, bool) {
	if code, served := powercut.Serve(); served {
		return code, true
	}
	dir, ok := os.LookupEnv(envPromoteChild)
	if !ok {
		return 0, false
	}
	return promoteChild(dir), true
}

// promoteChild rotates the store in dir for ever: a new key, a
// certificate for it with the next serial, PutCandidate, Promote, and
// "P serial" once Promote returned.
func promoteChild(dir string) int {
	serial, err := strconv.ParseInt(os.Getenv(envPromoteStart), 10, 64)
	if err != nil {
		fmt.Fprintln(os.Stderr, "promote child:", err)
		return 2
	}
	s, err := OpenStore(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "promote child:", err)
		return 2
	}
	for ; ; serial++ {
		key, err := NewKey(AlgECDSAP256)
		if err != nil {
			fmt.Fprintln(os.Stderr, "promote child:", err)
			return 2
		}
		certPEM, err := selfSigned(key, serial)
		if err == nil {
			err = s.PutCandidate(certPEM, key)
		}
		if err == nil {
			err = s.Promote()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "promote child:", err) // the power gone
			return 1
		}
		fmt.Printf("P %d\n", serial)
	}
}

// selfSigned is a client certificate for key, signed by itself.
func selfSigned(key crypto.Signer, serial int64) ([]byte, error) {
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "gw-powercut"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}
