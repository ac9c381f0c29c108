package binding

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/iot-hub/agent/internal/atomicfile"
)

// ClaimFileName is the claim code's file in the state directory.
const ClaimFileName = "claim-code"

// claimAlphabet is Crockford's base32: no I, L, O, U, read aloud or
// typed from a label without doubt.
const claimAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// ClaimCode returns the gateway's claim code, kept in stateDir: 16
// characters of Crockford's base32 (80 random bits) in groups of four,
// made and written (0600) the first time. Whoever holds it with the
// device id can bind the gateway: it goes into the binding QR code and
// nowhere else (not the log, not getDeviceState). The state directory
// must exist; run as root, the file is given the directory's owner, the
// agent's user.
func ClaimCode(stateDir string) (string, error) {
	path := filepath.Join(stateDir, ClaimFileName)
	switch b, err := os.ReadFile(path); {
	case err == nil:
		code := strings.TrimSpace(string(b))
		if !validClaim(code) {
			return "", fmt.Errorf("binding: %s holds %q, not a claim code; remove it to make a new one (a label printed with the old code no longer binds)", path, code)
		}
		return code, nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("binding: %w", err)
	}
	dir, err := os.Stat(stateDir)
	if err != nil {
		return "", fmt.Errorf("binding: the state directory: %w (start the agent once, or make it, first)", err)
	}
	code := newClaim()
	if err := atomicfile.WriteFile(path, []byte(code+"\n")); err != nil {
		return "", fmt.Errorf("binding: %w", err)
	}
	if st, ok := dir.Sys().(*syscall.Stat_t); ok && os.Geteuid() == 0 {
		if err := os.Chown(path, int(st.Uid), int(st.Gid)); err != nil {
			return "", fmt.Errorf("binding: %w", err)
		}
	}
	return code, nil
}

// newClaim makes a claim code.
func newClaim() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	var s strings.Builder
	for i, c := range b {
		if i > 0 && i%4 == 0 {
			s.WriteByte('-')
		}
		s.WriteByte(claimAlphabet[c%32]) // 256 is a multiple of 32: no bias
	}
	return s.String()
}

// validClaim reports whether s is a claim code newClaim could make.
func validClaim(s string) bool {
	if len(s) != 19 {
		return false
	}
	for i, c := range s {
		if i%5 == 4 {
			if c != '-' {
				return false
			}
		} else if !strings.ContainsRune(claimAlphabet, c) {
			return false
		}
	}
	return true
}

// QRText is what the binding QR code holds: a JSON object the platform's
// app posts to bind-qr as it is, {"deviceId": ..., "claimCode": ...}.
func QRText(deviceID, claim string) string {
	b, _ := json.Marshal(struct {
		DeviceID  string `json:"deviceId"`
		ClaimCode string `json:"claimCode"`
	}{deviceID, claim})
	return string(b)
}
