package update_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/update"
)

// release is a binary's bytes, with its SHA-256 and signature by key.
type release struct {
	body []byte
	sum  string
	sig  string
	pub  ed25519.PublicKey
}

func newRelease(t *testing.T, size int) release {
	t.Helper()
	body := make([]byte, size)
	if _, err := rand.Read(body); err != nil {
		t.Fatal(err)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256(body)
	return release{body: body, sum: hex.EncodeToString(d[:]), sig: base64.StdEncoding.EncodeToString(ed25519.Sign(priv, d[:])), pub: pub}
}

// serve serves body over HTTPS with Range support; the first drops
// requests are cut off after half of what they asked for.
func serve(t *testing.T, body []byte, drops int) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var requests atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := requests.Add(1)
		if int(n) <= drops { // the whole file announced, half of it sent
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(body[:len(body)/2])
			if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
				conn.Close()
			}
			return
		}
		http.ServeContent(w, r, "agent", time.Time{}, bytes.NewReader(body))
	}))
	t.Cleanup(srv.Close)
	return srv, &requests
}

func TestDownloadAndVerify(t *testing.T) {
	rel := newRelease(t, 1<<20)
	srv, _ := serve(t, rel.body, 0)
	dst := filepath.Join(t.TempDir(), "agent.part")
	n, err := update.Download(context.Background(), srv.Client(), srv.URL+"/agent", dst, 4<<20)
	if err != nil || n != int64(len(rel.body)) {
		t.Fatalf("Download = %d, %v", n, err)
	}
	if err := update.Verify(dst, rel.sum, rel.sig, rel.pub); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

// A dropped connection: the next request asks for the rest (Range) and
// the file comes out whole.
func TestDownloadResumes(t *testing.T) {
	rel := newRelease(t, 1<<20)
	srv, requests := serve(t, rel.body, 1)
	dst := filepath.Join(t.TempDir(), "agent.part")
	n, err := update.Download(context.Background(), srv.Client(), srv.URL+"/agent", dst, 4<<20)
	if err != nil || n != int64(len(rel.body)) {
		t.Fatalf("Download = %d, %v", n, err)
	}
	if requests.Load() != 2 {
		t.Errorf("%d requests; want 2, the second resuming", requests.Load())
	}
	got, _ := os.ReadFile(dst)
	if !bytes.Equal(got, rel.body) {
		t.Fatal("the resumed download differs from the file served")
	}
}

func TestDownloadRefusals(t *testing.T) {
	rel := newRelease(t, 1<<20)
	srv, _ := serve(t, rel.body, 0)
	dst := filepath.Join(t.TempDir(), "agent.part")
	if _, err := update.Download(context.Background(), srv.Client(), srv.URL+"/agent", dst, 1<<19); !errors.Is(err, update.ErrTooLarge) {
		t.Errorf("Download beyond maxBytes = %v; want ErrTooLarge", err)
	}
	// Dropped every time: refused after its attempts, naming the cause.
	cut, _ := serve(t, rel.body, 100)
	if _, err := update.Download(context.Background(), cut.Client(), cut.URL+"/agent", dst, 4<<20); err == nil || !strings.Contains(err.Error(), "attempts") {
		t.Errorf("Download always cut = %v; want an error after its attempts", err)
	}
	missing := httptest.NewTLSServer(http.NotFoundHandler())
	defer missing.Close()
	if _, err := update.Download(context.Background(), missing.Client(), missing.URL+"/agent", dst, 4<<20); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("Download of a missing file = %v; want 404", err)
	}
}

func TestVerifyRefusals(t *testing.T) {
	rel := newRelease(t, 64<<10)
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	truncated := filepath.Join(dir, "truncated")
	if err := os.WriteFile(good, rel.body, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(truncated, rel.body[:len(rel.body)-100], 0o600); err != nil {
		t.Fatal(err)
	}
	other := newRelease(t, 16)
	for _, c := range []struct {
		name, path, sum, sig string
		want                 error
	}{
		{"truncated", truncated, rel.sum, rel.sig, update.ErrDigest},
		{"wrong hash", good, other.sum, rel.sig, update.ErrDigest},
		{"wrong signature", good, rel.sum, other.sig, update.ErrSignature},
	} {
		if err := update.Verify(c.path, c.sum, c.sig, rel.pub); !errors.Is(err, c.want) {
			t.Errorf("%s: Verify = %v; want %v", c.name, err, c.want)
		}
	}
	if err := update.Verify(good, rel.sum, rel.sig, other.pub); !errors.Is(err, update.ErrSignature) {
		t.Errorf("another key: Verify = %v; want ErrSignature", err)
	}
}
