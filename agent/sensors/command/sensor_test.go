package command_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/sensors"
	"github.com/iot-hub/agent/agent/sensors/command"
)

// sh is a sensor whose program is /bin/sh running script: the sensor
// runs no shell of its own, the test's program is one.
func sh(t *testing.T, format, script string) *command.Sensor {
	t.Helper()
	s, err := command.New(command.Config{Name: "script", Settings: command.Settings{
		Command: []string{"/bin/sh", "-c", script}, Format: format, Units: map[string]string{"t": "Cel"}}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func read(t *testing.T, s *command.Sensor, timeout time.Duration) ([]sensors.Reading, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return s.Read(ctx)
}

func TestReadsTheOutput(t *testing.T) {
	for _, tc := range []struct {
		name, format, script string
		want                 []sensors.Reading
	}{
		{"json", "json", `echo '{"t": 21.5, "pump": true, "fw": "1.2"}'`,
			[]sensors.Reading{{Metric: "t", Value: 21.5, Unit: "Cel"}, {Metric: "pump", Value: 1}}},
		{"json over lines", "json", `printf '{\n  "t": 21.5,\r\n  "n": 3\n}\n'`,
			[]sensors.Reading{{Metric: "t", Value: 21.5, Unit: "Cel"}, {Metric: "n", Value: 3}}},
		{"kv, a pair a line", "kv", `printf 't=-4\nlevel=0.82\n'`,
			[]sensors.Reading{{Metric: "t", Value: -4, Unit: "Cel"}, {Metric: "level", Value: 0.82}}},
		{"its name, and not the agent's environment", "kv", `echo sensor=${#IOT_HUB_SENSOR} secret=${#IOT_HUB_MQTT_PASSWORD} path=${#PATH}`,
			[]sensors.Reading{{Metric: "sensor", Value: 6}, {Metric: "secret", Value: 0}, {Metric: "path", Value: float64(len("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"))}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("IOT_HUB_MQTT_PASSWORD", "s3cret")
			rs, err := read(t, sh(t, tc.format, tc.script), 5*time.Second)
			if err != nil || !reflect.DeepEqual(rs, tc.want) {
				t.Errorf("Read = %v, %v; want %v", rs, err, tc.want)
			}
		})
	}
}

// TestFailures: each way a program fails is an error that says which.
func TestFailures(t *testing.T) {
	for _, tc := range []struct {
		name, script string
		want         string
	}{
		{"exit status", `echo t=1; echo 'sensor bus busy' >&2; exit 3`, "exit status 3: sensor bus busy"},
		{"no value", `echo 'all good'`, "no reading: no value"},
		{"malformed json", `echo '{"t": 1'`, "no reading: malformed"},
		{"not UTF-8", `printf 't=1 \377\n'`, "no reading: garbage"},
		{"no output", `true`, "no reading"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			format := "kv"
			if strings.Contains(tc.name, "json") {
				format = "json"
			}
			rs, err := read(t, sh(t, format, tc.script), 5*time.Second)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Read = %v, %v; want an error with %q", rs, err, tc.want)
			}
		})
	}
	missing, err := command.New(command.Config{Name: "m", Settings: command.Settings{Command: []string{"no-such-program-here"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := read(t, missing, time.Second); err == nil || !strings.Contains(err.Error(), "no-such-program-here: not found in PATH") {
		t.Errorf("Read of a program not there = %v; want an error naming it", err)
	}
}

// TestTimeoutKillsTheProcessGroup: at the timeout the program and what
// it started are killed, and the read returns at once.
func TestTimeoutKillsTheProcessGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	s := sh(t, "kv", `sleep 60 & echo $! > `+pidFile+`; wait`)
	start := time.Now()
	_, err := read(t, s, 500*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "killed at the timeout") || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Read = %v; want killed at the timeout", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Read returned after %v; want soon after the 500 ms timeout", took)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	child, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(child, 0) == nil { // a zombie until its parent is reaped: init reaps it
		if stat, _ := os.ReadFile("/proc/" + strconv.Itoa(child) + "/stat"); strings.Contains(string(stat), ") Z ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sleep the program started (pid %d) is still running", child)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestOutputIsBounded: a program that writes without end is killed as
// it passes maxOutputBytes, not at the timeout.
func TestOutputIsBounded(t *testing.T) {
	s, err := command.New(command.Config{Name: "flood", Settings: command.Settings{
		Command: []string{"/bin/sh", "-c", "yes t=1"}, Format: "kv", MaxOutputBytes: 4 << 10}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = read(t, s, 30*time.Second)
	if !errors.Is(err, command.ErrTooMuchOutput) {
		t.Errorf("Read = %v; want ErrTooMuchOutput", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Read returned after %v; want at once, not at the 30 s timeout", took)
	}
}

func TestSettingsValidate(t *testing.T) {
	for _, tc := range []struct {
		s    command.Settings
		want string
	}{
		{command.Settings{Command: []string{"/usr/bin/true"}, Format: "json"}, ""},
		{command.Settings{Format: "json"}, "command"},
		{command.Settings{Command: []string{""}, Format: "json"}, "command"},
		{command.Settings{Command: []string{"x"}, Format: "csv"}, "format"},
		{command.Settings{Command: []string{"x"}, Format: "kv", Units: map[string]string{"": "Cel"}}, "units"},
	} {
		err := tc.s.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("Validate(%+v) = %v; want an error on %q", tc.s, err, tc.want)
		}
	}
}
