package mqtttest

import (
	"os"
	"os/exec"
	"testing"
)

// LookClient returns the path of name, one of Debian's mosquitto-clients
// (mosquitto_pub, mosquitto_rr, ...), for a test that runs it against a
// [Broker]. Without it the test is skipped, or fails when CI is set: CI
// installs the package (.ci/run's APT_PACKAGES).
func LookClient(t testing.TB, name string) string {
	t.Helper()
	bin, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv(EnvCI) != "" {
			t.Fatalf("%s not found (%v) and %s is set: install Debian's mosquitto-clients (.ci/run's APT_PACKAGES)", name, err, EnvCI)
		}
		t.Skipf("%s not found (%v): install Debian's mosquitto-clients to run this test", name, err)
	}
	return bin
}
