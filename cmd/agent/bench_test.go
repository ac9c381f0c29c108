package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/internal/mqtttest"
)

var (
	cpuWindow  = flag.Duration("agent.cpuwindow", time.Minute, "how long BenchmarkAgentCPU measures the agents' CPU time")
	cpuProfile = flag.String("agent.cpuprofile", "", "write a CPU profile of the loaded agent of BenchmarkAgentMixedCPU, over its measured window, to this file")
)

// profileEnv names the file a child agent writes its CPU profile to, and
// profileAfterEnv how long after its start it begins.
const (
	profileEnv      = "IOT_HUB_AGENT_TEST_CPUPROFILE"
	profileAfterEnv = "IOT_HUB_AGENT_TEST_CPUPROFILE_AFTER"
)

// profiledEnv is the environment that has a loaded agent write the
// profile -agent.cpuprofile asks for, from warm after its start, when
// the benchmark's window has begun, until it is stopped.
func profiledEnv(warm time.Duration) []string {
	if *cpuProfile == "" {
		return nil
	}
	path, _ := filepath.Abs(*cpuProfile)
	return []string{profileEnv + "=" + path, profileAfterEnv + "=" + warm.String()}
}

// stopProfiled stops a loaded agent with SIGTERM when it writes a
// profile, so that the profile is complete.
func stopProfiled(b *testing.B, p *agentProc) {
	if *cpuProfile != "" {
		p.stop(b, syscall.SIGTERM)
	}
}

// profileCPU, in a child agent, starts the CPU profile its environment
// asks for, and returns what ends it.
func profileCPU() (stop func()) {
	path := os.Getenv(profileEnv)
	if path == "" {
		return func() {}
	}
	wait, err := time.ParseDuration(os.Getenv(profileAfterEnv))
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", profileAfterEnv, err)
		return func() {}
	}
	var mu sync.Mutex
	stopped := false
	go func() {
		time.Sleep(wait)
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		f, err := os.Create(path)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "CPU profile: %v\n", err)
		}
	}()
	return func() {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		pprof.StopCPUProfile()
	}
}

// cpuSensors is how many sensors the loaded agent of BenchmarkAgentCPU
// reads, each once a second.
const cpuSensors = 50

// BenchmarkAgentCPU runs two agents side by side against the same broker
// for -agent.cpuwindow (a minute): one reading cpuSensors sensors once a
// second, the other with no sensor at all, the baseline. It reports
// each agent's CPU time (user and system, from its /proc/PID/stat, what
// the agent itself would read from /proc/self/stat) as a percentage of
// one core, and the sensors' reads that reached the broker per second. The
// sensors are thermal zones in a temporary directory: a driver whose own
// work is a file read, so the figure is the agent's: sampling, the
// telemetry events, the outbox and the uplink. It does a fixed amount of
// work and ignores b.N: run it with -benchtime 1x.
func BenchmarkAgentCPU(b *testing.B) {
	broker := mqtttest.Start(b, mqtttest.Options{})
	if broker.Embedded() {
		b.Log("the agents publish to the embedded broker, not mosquitto")
	}
	zones := filepath.Join(b.TempDir(), "thermal")
	for i := range 2 {
		dir := filepath.Join(zones, fmt.Sprintf("thermal_zone%d", i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "temp"), []byte("48312\n"), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	var list strings.Builder
	for i := range cpuSensors {
		fmt.Fprintf(&list, "  - {name: zone-%02d, type: thermal, interval: 1s, path: %s}\n", i, zones)
	}
	var loaded, idle *agentProc
	asTheUnitRuns(b, func() {
		loaded = startBenchAgent(b, broker, "gw-cpu-loaded", list.String())
		idle = startBenchAgent(b, broker, "gw-cpu-idle", "  []\n")
	})

	topics, _ := contracts.DeviceTopics("gw-cpu-loaded")
	sub := broker.Subscribe(b, topics.Telemetry, 1)
	defer sub.Close()
	waitForReads(b, sub, 2*cpuSensors, 30*time.Second) // both agents run, and the first reads arrived
	time.Sleep(5 * time.Second)                        // past the start's work and the first reads' jitter
	sub.Clear()

	b.ResetTimer()
	startLoaded, startIdle, start := procCPU(b, loaded), procCPU(b, idle), time.Now()
	time.Sleep(*cpuWindow)
	usedLoaded, usedIdle, window := procCPU(b, loaded)-startLoaded, procCPU(b, idle)-startIdle, time.Since(start)
	reads := countReads(b, sub.Messages())
	b.StopTimer()

	b.Run(fmt.Sprintf("%d-sensors-1Hz", cpuSensors), func(b *testing.B) {
		b.ReportMetric(100*usedLoaded.Seconds()/window.Seconds(), "cpu-%")
		b.ReportMetric(float64(reads)/window.Seconds(), "reads/s")
	})
	b.Run("baseline-no-sensor", func(b *testing.B) {
		b.ReportMetric(100*usedIdle.Seconds()/window.Seconds(), "cpu-%")
	})
	if min := int(0.9 * cpuSensors * window.Seconds()); reads < min {
		b.Errorf("%d reads in %v; want at least %d", reads, window, min)
	}
}

// startBenchAgent starts an agent that publishes to broker and reads the
// sensors given as a YAML list.
func startBenchAgent(b *testing.B, broker *mqtttest.Broker, id, sensorsYAML string) *agentProc {
	dir := b.TempDir()
	return startAgent(b, writeConfig(b, fmt.Sprintf(`
deviceId: %s
stateDir: %s
log: {level: info, format: json}
uplink: {mqtt: {broker: %s}}
sensors:
%s`, id, filepath.Join(dir, "state"), broker.URL(), sensorsYAML)))
}

// clockTick is the unit of /proc/PID/stat's times: USER_HZ, 100 on Linux.
const clockTick = 10 * time.Millisecond

// procCPU returns the CPU time, user and system, the agent has used.
func procCPU(b *testing.B, p *agentProc) time.Duration {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		b.Fatal(err)
	}
	// The fields after the command, which is in parentheses and may hold
	// spaces: state is field 3, utime 14 and stime 15.
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		b.Fatalf("/proc/%d/stat: %q", p.cmd.Process.Pid, stat)
	}
	return time.Duration(utime+stime) * clockTick
}
