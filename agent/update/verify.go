package update

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Errors of Verify.
var (
	ErrDigest    = errors.New("SHA-256 does not match")
	ErrSignature = errors.New("signature does not verify against update.publicKey")
)

// Verify checks the file at path: its SHA-256 must be sha256Hex, and
// signature (base64) an ed25519 signature by pub of that SHA-256's 32
// bytes (what `openssl pkeyutl -sign -rawin` makes of them).
func Verify(path, sha256Hex, signature string, pub ed25519.PublicKey) error {
	want, err := hex.DecodeString(strings.ToLower(sha256Hex))
	if err != nil || len(want) != sha256.Size {
		return fmt.Errorf("sha256 %q: want 64 hex digits", sha256Hex)
	}
	sig, err := base64.StdEncoding.DecodeString(signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return fmt.Errorf("signature: want %d bytes in base64", ed25519.SignatureSize)
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	got := h.Sum(nil)
	if hex.EncodeToString(got) != hex.EncodeToString(want) {
		return fmt.Errorf("%w: the download's is %x", ErrDigest, got)
	}
	if !ed25519.Verify(pub, got, sig) {
		return ErrSignature
	}
	return nil
}
