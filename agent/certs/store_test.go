package certs

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestOpenStoreCreatesDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o700 {
		t.Errorf("store dir mode = %#o; want 0700", got)
	}
	if s.Dir() != dir {
		t.Errorf("Dir() = %q; want %q", s.Dir(), dir)
	}
	for name, get := range map[string]func() error{
		"Current":   func() error { _, _, err := s.Current(); return err },
		"Candidate": func() error { _, _, err := s.Candidate(); return err },
		"Previous":  func() error { _, _, err := s.Previous(); return err },
		"Pending":   func() error { _, err := s.Pending(); return err },
		"Promote":   s.Promote,
	} {
		if err := get(); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s on an empty store = %v; want %v", name, err, ErrNotFound)
		}
	}
	if err := s.Rollback(); err != nil {
		t.Errorf("Rollback on an empty store = %v; want nil", err)
	}
}

func TestOpenStoreRefusesOpenDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := OpenStore(dir)
	if !errors.Is(err, ErrPermissions) || !strings.Contains(err.Error(), "mode 0755, must be 0700") {
		t.Fatalf("OpenStore(0755 dir) = %v; want %v naming the mode", err, ErrPermissions)
	}
}

func TestPendingRoundTrip(t *testing.T) {
	for _, alg := range []string{AlgECDSAP256, AlgRSA2048} {
		t.Run(alg, func(t *testing.T) {
			s := openStore(t)
			key := mustKey(t, alg)
			if err := s.PutPending(key); err != nil {
				t.Fatal(err)
			}
			got, err := s.Pending()
			if err != nil {
				t.Fatal(err)
			}
			if !sameKey(got.Public(), key.Public()) {
				t.Error("Pending() returned another key")
			}
			assertModes(t, s.Dir())
		})
	}
}

func TestCandidatePromoteRollback(t *testing.T) {
	root := newRoot(t, "root")
	inter := root.intermediate(t, "issuing")
	s := openStore(t)

	// First install: no current yet.
	a := newPair(t, root)
	if err := s.PutPending(a.key); err != nil {
		t.Fatal(err)
	}
	if err := s.PutCandidate(a.pem, a.key); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pending(); !errors.Is(err, ErrNotFound) {
		t.Errorf("Pending() after PutCandidate = %v; want %v", err, ErrNotFound)
	}
	if _, _, err := s.Current(); !errors.Is(err, ErrNotFound) {
		t.Errorf("Current() before Promote = %v; want %v", err, ErrNotFound)
	}
	if err := s.Promote(); err != nil {
		t.Fatal(err)
	}
	wantSlots(t, s, pemSerial(t, a), "", "")

	// Rotation with an intermediate in the chain.
	b := pair{key: mustKey(t, AlgRSA2048)}
	b.pem = inter.issue(t, b.key.Public(), leafOpts{cn: "gw-0042"}, inter)
	if err := s.PutCandidate(b.pem, b.key); err != nil {
		t.Fatal(err)
	}
	c, leaf, err := s.Candidate()
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Certificate) != 2 || leaf.SerialNumber.String() != pemSerial(t, b) || !sameKey(c.PrivateKey.(crypto.Signer).Public(), b.key.Public()) {
		t.Errorf("Candidate() = %d certificates, serial %s; want the chain of 2 of %s, with the key put", len(c.Certificate), leaf.SerialNumber, pemSerial(t, b))
	}
	wantSlots(t, s, pemSerial(t, a), pemSerial(t, b), "")

	// Rollback drops the candidate only.
	if err := s.Rollback(); err != nil {
		t.Fatal(err)
	}
	wantSlots(t, s, pemSerial(t, a), "", "")

	if err := s.PutCandidate(b.pem, b.key); err != nil {
		t.Fatal(err)
	}
	if err := s.Promote(); err != nil {
		t.Fatal(err)
	}
	wantSlots(t, s, pemSerial(t, b), "", pemSerial(t, a))
	assertModes(t, s.Dir())
	if err := CheckPermissions(s.Dir()); err != nil {
		t.Errorf("CheckPermissions after a rotation = %v", err)
	}

	// The current pair works in a real handshake (RSA key behind the
	// redacting wrapper: TLS 1.3 signs with PSS through it).
	cur, _, err := s.Current()
	if err != nil {
		t.Fatal(err)
	}
	handshake(t, cur, pool(root))
}

func TestPutCandidateRefuses(t *testing.T) {
	root := newRoot(t, "root")
	s := openStore(t)
	a := newPair(t, root)
	other := mustKey(t, "")
	if err := s.PutCandidate(a.pem, other); !errors.Is(err, ErrWrongKey) {
		t.Errorf("PutCandidate(other key) = %v; want %v", err, ErrWrongKey)
	}
	if err := s.PutCandidate([]byte("junk"), a.key); !errors.Is(err, ErrBadPEM) {
		t.Errorf("PutCandidate(junk) = %v; want %v", err, ErrBadPEM)
	}
	if err := s.PutCandidate(a.pem, nil); err == nil {
		t.Error("PutCandidate(nil key) = nil; want an error")
	}
	if err := s.PutPending(nil); err == nil {
		t.Error("PutPending(nil) = nil; want an error")
	}
	wantSlots(t, s, "", "", "")
}

// TestCorruptCurrent: a damaged current file is refused with ErrCorrupt,
// a message naming the file, and no key bytes.
func TestCorruptCurrent(t *testing.T) {
	root := newRoot(t, "root")
	a, b := newPair(t, root), newPair(t, root)
	s := openStore(t)
	if err := s.PutCandidate(a.pem, a.key); err != nil {
		t.Fatal(err)
	}
	if err := s.Promote(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(s.Dir(), currentFile)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := encodeKey(a.key)
	if err != nil {
		t.Fatal(err)
	}
	mismatch, err := encodePair([][]byte{mustChain(t, b.pem)}, a.key)
	if err != nil {
		t.Fatal(err)
	}
	certEnd := strings.Index(string(good), "-----BEGIN PRIVATE KEY-----")
	tests := []struct {
		name, want string
		data       []byte
	}{
		{"empty", "no certificate", nil},
		{"garbage", "garbage", []byte("\x00\x01 not a pem file at all")},
		{"cut in the key", "cut-off block", good[:len(good)-40]},
		{"cut in the certificate", "cut-off block", good[:certEnd/2]},
		{"cut after the certificate", "no private key", good[:certEnd]},
		{"key only", "no certificate", keyPEM},
		{"trailing garbage", "garbage", append(append([]byte{}, good...), "xyz"...)},
		{"key of another pair", "does not match", mismatch},
		{"block after the key", "after the key", append(append([]byte{}, good...), b.pem...)},
	}
	secret := strings.Split(string(keyPEM), "\n")[1] // a line of key base64
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := os.WriteFile(path, tt.data, 0o600); err != nil {
				t.Fatal(err)
			}
			_, _, err := s.Current()
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Current() = %v; want %v", err, ErrCorrupt)
			}
			msg := err.Error()
			if !strings.Contains(msg, path) || !strings.Contains(msg, tt.want) {
				t.Errorf("Current() error %q; want it to name %s and say %q", msg, path, tt.want)
			}
			if strings.Contains(msg, secret) {
				t.Errorf("Current() error %q contains key material", msg)
			}
		})
	}
}

// wantSlots checks the leaf serial in each slot; "" means empty.
func wantSlots(t *testing.T, s *Store, current, candidate, previous string) {
	t.Helper()
	for _, sl := range []struct {
		name, want string
		get        func() (tls.Certificate, *x509.Certificate, error)
	}{
		{"current", current, s.Current},
		{"candidate", candidate, s.Candidate},
		{"previous", previous, s.Previous},
	} {
		_, leaf, err := sl.get()
		switch {
		case sl.want == "" && !errors.Is(err, ErrNotFound):
			t.Errorf("%s = %v, %v; want %v", sl.name, leaf, err, ErrNotFound)
		case sl.want != "" && err != nil:
			t.Errorf("%s: %v; want serial %s", sl.name, err, sl.want)
		case sl.want != "" && leaf.SerialNumber.String() != sl.want:
			t.Errorf("%s serial = %s; want %s", sl.name, leaf.SerialNumber, sl.want)
		}
	}
}

// assertModes checks that every file in dir is 0600 and dir 0700.
func assertModes(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s mode = %#o; want %#o", path, got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func mustChain(t *testing.T, p []byte) []byte {
	t.Helper()
	chain, err := parseChain(p)
	if err != nil {
		t.Fatal(err)
	}
	return chain[0].Raw
}

// handshake runs a mutual-TLS handshake over a pipe with cert as the
// client certificate, verified against roots.
func handshake(t *testing.T, cert tls.Certificate, roots *x509.CertPool) {
	t.Helper()
	serverKey := mustKey(t, "")
	root := newRoot(t, "server-root")
	srv := root.issue(t, serverKey.Public(), leafOpts{cn: "broker", dns: []string{"broker"}, eku: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	srvChain, err := parseChain(srv)
	if err != nil {
		t.Fatal(err)
	}
	// Loopback TCP, not net.Pipe: its buffers let a side that failed
	// send its alert and return instead of blocking.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c2, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c1, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	now := func() time.Time { return t0 }
	server := tls.Server(c1, &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{srvChain[0].Raw}, PrivateKey: serverKey}},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    roots,
		Time:         now,
	})
	client := tls.Client(c2, &tls.Config{
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool(root),
		ServerName:   "broker",
		Time:         now,
	})
	errc := make(chan error, 1)
	go func() { errc <- server.Handshake() }()
	cerr := client.Handshake()
	if cerr != nil {
		c2.Close() // unblock the server
	}
	if serr := <-errc; cerr != nil || serr != nil {
		t.Fatalf("handshake: client %v, server %v; want both nil", cerr, serr)
	}
}
