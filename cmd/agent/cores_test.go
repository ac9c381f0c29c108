package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/iot-hub/agent/agent/broker"
)

// TestRunsOnOneCPU: by default every thread of the agent stays on the
// first CPU it may run on, and says so in its start line; with
// GOMAXPROCS in its environment it stays on none.
func TestRunsOnOneCPU(t *testing.T) {
	var allowed unix.CPUSet
	if err := unix.SchedGetaffinity(0, &allowed); err != nil {
		t.Fatal(err)
	}
	first := firstCPU(&allowed)
	every := cpuList(t, "self")
	b, err := broker.Start(broker.Config{Settings: broker.Settings{Listen: "127.0.0.1:0"}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, tc := range []struct {
		env  []string
		cpu  int
		list string
	}{
		{nil, first, fmt.Sprint(first)},
		{[]string{"GOMAXPROCS=2"}, -1, every},
	} {
		t.Run(fmt.Sprintf("%q", tc.env), func(t *testing.T) {
			path := writeConfig(t, fmt.Sprintf(`
deviceId: gw-cores
stateDir: %s
log: {level: info, format: json}
uplink: {mqtt: {broker: %s}}
`, filepath.Join(t.TempDir(), "state"), b.URL()))
			agent := startAgentWith(t, path, tc.env...)
			agent.waitLog(t, `"msg":"agent starting"`, 30*time.Second)
			agent.waitLog(t, fmt.Sprintf(`"cpu":%d`, tc.cpu), time.Second)
			time.Sleep(500 * time.Millisecond) // the threads of its start
			tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", agent.cmd.Process.Pid))
			if err != nil {
				t.Fatal(err)
			}
			for _, task := range tasks {
				if got := cpuList(t, fmt.Sprintf("%d/task/%s", agent.cmd.Process.Pid, task.Name())); got != tc.list {
					t.Errorf("thread %s may run on CPUs %s; want %s", task.Name(), got, tc.list)
				}
			}
			if len(tasks) < 3 {
				t.Errorf("%d threads; a Go program has at least 3 by now", len(tasks))
			}
			if code := agent.stop(t, unix.SIGTERM); code != 0 {
				t.Errorf("exit code %d", code)
			}
		})
	}
}

// cpuList is the Cpus_allowed_list of /proc/<of>/status.
func cpuList(t *testing.T, of string) string {
	t.Helper()
	status, err := os.ReadFile("/proc/" + of + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("/proc/%s/status has no Cpus_allowed_list", of)
	return ""
}
