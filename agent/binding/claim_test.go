package binding_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/iot-hub/agent/agent/binding"
)

// TestClaimCode: made the first time, 16 characters of Crockford's
// base32 in groups of four, kept (0600) and the same every time after;
// two gateways get different ones; a state directory that does not
// exist is an error that says to start the agent first, and nothing is
// made; a damaged file is an error naming it.
func TestClaimCode(t *testing.T) {
	dir := t.TempDir()
	code, err := binding.ClaimCode(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$`).MatchString(code) {
		t.Errorf("claim code %q; want XXXX-XXXX-XXXX-XXXX in Crockford's base32", code)
	}
	if again, err := binding.ClaimCode(dir); err != nil || again != code {
		t.Errorf("second ClaimCode = %q, %v; want %q again", again, err, code)
	}
	if fi, err := os.Stat(filepath.Join(dir, binding.ClaimFileName)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the claim file: %v, %v; want mode 0600", fi, err)
	}
	if other, _ := binding.ClaimCode(t.TempDir()); other == code {
		t.Errorf("two gateways got the same claim code %q", code)
	}

	absent := filepath.Join(t.TempDir(), "state")
	if _, err := binding.ClaimCode(absent); err == nil || !strings.Contains(err.Error(), "start the agent once") {
		t.Errorf("ClaimCode in a state directory not there = %v; want an error saying to start the agent first", err)
	}
	if _, err := os.Stat(absent); !os.IsNotExist(err) {
		t.Errorf("ClaimCode made the state directory: %v", err)
	}

	if err := os.WriteFile(filepath.Join(dir, binding.ClaimFileName), []byte("hello\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := binding.ClaimCode(dir); err == nil || !strings.Contains(err.Error(), binding.ClaimFileName) {
		t.Errorf("ClaimCode of a damaged file = %v; want an error naming it", err)
	}
}

func TestQRText(t *testing.T) {
	if got := binding.QRText("gw-0042", "7KQ2-M9XD-4RTA-HC3P"); got != `{"deviceId":"gw-0042","claimCode":"7KQ2-M9XD-4RTA-HC3P"}` {
		t.Errorf("QRText = %s", got)
	}
}
