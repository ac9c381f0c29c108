package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/iot-hub/agent/agent/config"
)

// beMain makes the test binary the agent: the end-to-end tests run it as
// a child process with this variable set and the agent's arguments.
const beMain = "IOT_HUB_AGENT_TEST_BE_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(beMain) == "1" {
		rpcTestHook = panicOnSensor
		certsTestHook = certsE2EHook
		slotTestHooks()
		stopProfile := profileCPU()
		code := run(os.Args[1:], os.Stdout, os.Stderr)
		stopProfile()
		os.Exit(code)
	}
	goleak.VerifyTestMain(m)
}

// runArgs runs the command line in-process.
func runArgs(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestUsage(t *testing.T) {
	tests := []struct {
		args     []string
		code     int
		inStdout string
		inStderr string
	}{
		{nil, exitUsage, "", "Usage:"},
		{[]string{"-h"}, exitOK, "Usage:", ""},
		{[]string{"help"}, exitOK, "agent check-config FILE", ""},
		{[]string{"frobnicate"}, exitUsage, "", `unknown command "frobnicate"`},
		{[]string{"-x"}, exitUsage, "", "flag provided but not defined: -x"},
		{[]string{"run"}, exitUsage, "", "Usage: agent run --config FILE"},
		{[]string{"check-config"}, exitUsage, "", "Usage: agent check-config FILE"},
		{[]string{"version", "x"}, exitUsage, "", "takes no arguments"},
		{[]string{"version"}, exitOK, "agent dev " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + "\n", ""},
	}
	for _, tt := range tests {
		code, stdout, stderr := runArgs(tt.args...)
		if code != tt.code || !strings.Contains(stdout, tt.inStdout) || !strings.Contains(stderr, tt.inStderr) {
			t.Errorf("agent %q = %d, stdout %q, stderr %q; want %d, stdout with %q, stderr with %q",
				tt.args, code, stdout, stderr, tt.code, tt.inStdout, tt.inStderr)
		}
	}
}

func writeConfig(t testing.TB, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCheckConfig(t *testing.T) {
	t.Setenv(config.EnvMQTTPassword, "env-secret")
	path := writeConfig(t, "deviceId: gw\nuplink:\n  mqtt:\n    broker: mqtt://b:1883\n    password: file-secret\n")
	code, stdout, stderr := runArgs("check-config", path)
	if code != exitOK || stderr != "" {
		t.Fatalf("check-config = %d, stderr %q; want 0", code, stderr)
	}
	if strings.Contains(stdout, "secret") || !strings.Contains(stdout, `password: "***"`) {
		t.Errorf("check-config does not mask the password:\n%s", stdout)
	}
	for _, want := range []string{"deviceId: gw", "keepAlive: 30s", "maxBytes: 64MiB", "stateDir: /var/lib/iot-hub-agent"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("check-config output lacks %q:\n%s", want, stdout)
		}
	}

	bad := writeConfig(t, "deviceId: gw\nuplink:\n  mqtt:\n    brokr: mqtt://b:1883\n")
	code, stdout, stderr = runArgs("check-config", bad)
	want := "agent: config: " + bad + ":4: uplink.mqtt.brokr: unknown key (did you mean broker?)\n"
	if code != exitError || stdout != "" || stderr != want {
		t.Errorf("check-config of a bad file = %d, stdout %q, stderr %q; want %d, %q", code, stdout, stderr, exitError, want)
	}
	// run refuses it the same way, before starting anything.
	code, _, stderr = runArgs("run", "--config", bad)
	if code != exitError || stderr != want {
		t.Errorf("run of a bad file = %d, stderr %q; want %d, %q", code, stderr, exitError, want)
	}
}

// TestCheckConfigReadsBrokerTLSFiles: check-config, and run, read the
// embedded broker's TLS files, and name the key of one that is missing.
func TestCheckConfigReadsBrokerTLSFiles(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "broker.pem")
	path := writeConfig(t, "deviceId: gw\nuplink:\n  mqtt:\n    embeddedBroker:\n      enabled: true\n      tls:\n        certFile: "+missing+"\n        keyFile: "+missing+"\n")
	want := "agent: config: " + path + ":7: uplink.mqtt.embeddedBroker.tls.certFile: open " + missing + ": no such file or directory\n"
	for _, args := range [][]string{{"check-config", path}, {"run", "--config", path}} {
		if code, stdout, stderr := runArgs(args...); code != exitError || stdout != "" || stderr != want {
			t.Errorf("agent %q = %d, stdout %q, stderr %q; want %d, %q", args, code, stdout, stderr, exitError, want)
		}
	}
}

// TestCheckConfigRefusesZeroInterval runs the agent binary's check-config
// on a sensor whose interval is written as 0, as a user would: it exits
// 1, naming the key and its limits, as it does for 50ms, instead of
// printing the default interval.
func TestCheckConfigRefusesZeroInterval(t *testing.T) {
	for _, interval := range []string{"0s", "0", "0ms", "50ms"} {
		path := writeConfig(t, "deviceId: gw\nuplink: {mqtt: {broker: \"mqtt://b:1883\"}}\nsensors:\n  - name: s\n    type: sim\n    interval: "+interval+"\n")
		cmd := exec.Command(os.Args[0], "check-config", path)
		cmd.Env = append(os.Environ(), beMain+"=1")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		shown := interval
		if interval == "0" || interval == "0ms" {
			shown = "0s"
		}
		want := "agent: config: " + path + ":6: sensors[0].interval: " + shown + " is outside 100ms..24h\n"
		if code := cmd.ProcessState.ExitCode(); code != exitError || stdout.Len() != 0 || stderr.String() != want {
			t.Errorf("agent check-config with interval: %s = %d (%v), stdout %q, stderr %q;\nwant %d, no stdout, stderr %q",
				interval, code, err, stdout.String(), stderr.String(), exitError, want)
		}
	}
}

func TestExampleConfigIsValid(t *testing.T) {
	code, stdout, stderr := runArgs("check-config", filepath.Join("..", "..", "examples", "demo.yaml"))
	if code != exitOK {
		t.Fatalf("check-config examples/demo.yaml = %d: %s", code, stderr)
	}
	for _, want := range []string{"deviceId: demo-gw", "stateDir: ./var", "broker: mqtt://127.0.0.1:1883", "enabled: true", "interval: 1s"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("the demo's configuration lacks %q:\n%s", want, stdout)
		}
	}
}

func TestNewLogger(t *testing.T) {
	var b bytes.Buffer
	newLogger(config.Log{Level: "warn", Format: "auto"}, &b).Info("hidden")
	newLogger(config.Log{Level: "warn", Format: "auto"}, &b).Warn("shown")
	if got := b.String(); strings.Contains(got, "hidden") || !strings.HasPrefix(got, `{"time":`) || !strings.Contains(got, `"msg":"shown"`) {
		t.Errorf("auto format to a buffer wrote %q; want JSON at warn level", got)
	}
	b.Reset()
	newLogger(config.Log{Level: "info", Format: "text"}, &b).Info("x")
	if !strings.Contains(b.String(), "level=INFO msg=x") {
		t.Errorf("text format wrote %q", b.String())
	}
}
