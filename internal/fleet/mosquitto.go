package main

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/iot-hub/agent/internal/freeport"
)

// broker is the mosquitto process the fleet talks to, started again on
// the same port after it is killed.
type broker struct {
	bin, dir string
	verbose  bool // log every packet
	port     int
	logFile  string
	cmd      *exec.Cmd
	exited   chan struct{}
	cpu      time.Duration // of the processes that exited
}

// startBroker writes mosquitto's configuration in dir and starts it on a
// free loopback port; verbose, it logs every packet.
func startBroker(bin, dir string, verbose bool) (*broker, error) {
	port, err := freeport.Port()
	if err != nil {
		return nil, err
	}
	b := &broker{bin: bin, dir: dir, verbose: verbose, port: port, logFile: filepath.Join(dir, "mosquitto.log")}
	if err := b.writeConfig(); err != nil {
		return nil, err
	}
	return b, b.start()
}

// writeConfig writes mosquitto.conf: its defaults but for the listener,
// persistence, saved every second, so that the verifier's session and
// subscription survive the kill, as a production broker's do; room for
// the verifier's queue while it reconnects; and the log with the time of
// every connection.
func (b *broker) writeConfig() error {
	var c strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&c, format+"\n", args...) }
	line("# Written by internal/fleet.")
	if os.Geteuid() == 0 {
		line("user root") // mosquitto would switch to its own user, who cannot write dir
	}
	line("listener %d 127.0.0.1", b.port)
	line("allow_anonymous true")
	line("persistence true")
	line("persistence_location %s/", b.dir)
	line("persistence_file mosquitto.db")
	line("autosave_interval 1")
	line("max_queued_messages 1000000")
	line("log_dest file %s", b.logFile)
	line("log_type error")
	line("log_type warning")
	line("log_type notice")
	if b.verbose {
		line("log_type all") // every packet: what became of a reading
	}
	line("log_timestamp_format %%s")
	return os.WriteFile(filepath.Join(b.dir, "mosquitto.conf"), []byte(c.String()), 0o600)
}

// addr is the broker's host:port.
func (b *broker) addr() string { return "127.0.0.1:" + strconv.Itoa(b.port) }

// url is the broker's URL for the uplinks.
func (b *broker) url() string { return "mqtt://" + b.addr() }

// start runs mosquitto and waits until it accepts connections.
func (b *broker) start() error {
	cmd := exec.Command(b.bin, "-c", filepath.Join(b.dir, "mosquitto.conf"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("mosquitto: %w", err)
	}
	b.cmd, b.exited = cmd, make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(b.exited)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", b.addr(), 200*time.Millisecond)
		if err == nil {
			return conn.Close()
		}
		select {
		case <-b.exited:
			return fmt.Errorf("mosquitto exited at start; see %s", b.logFile)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			b.kill()
			return fmt.Errorf("mosquitto not accepting on %s within 10 s: %w", b.addr(), err)
		}
	}
}

// kill kills mosquitto with SIGKILL, as a power cut or the OOM killer
// would, and waits for it.
func (b *broker) kill() { b.stop(syscall.SIGKILL) }

// stop ends mosquitto with sig and waits for it, adding its CPU time.
func (b *broker) stop(sig syscall.Signal) {
	if b.cmd == nil {
		return
	}
	_ = b.cmd.Process.Signal(sig)
	<-b.exited
	if st := b.cmd.ProcessState; st != nil {
		b.cpu += st.UserTime() + st.SystemTime()
	}
	b.cmd = nil
}

// runningCPU is the CPU time, user and system, of the running mosquitto.
func (b *broker) runningCPU() time.Duration {
	if b.cmd == nil {
		return 0
	}
	return processCPU(b.cmd.Process.Pid)
}

// processCPU reads a process's CPU time from /proc/PID/stat; 0 when it
// cannot.
func processCPU(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command's name, which is in parentheses and
	// may hold spaces: utime and stime are the 12th and 13th of them.
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(fields[11], 10, 64)
	st, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(ut+st) * time.Second / clockTicks
}

// clockTicks is the kernel's USER_HZ, the unit of /proc's CPU times: 100
// on every Linux the agent runs on.
const clockTicks = 100

// acceptsPerSecond reads mosquitto's log: the connections it accepted
// ("New connection from") in each second from since on, indexed by
// seconds since since.
func (b *broker) acceptsPerSecond(since time.Time) ([]int, error) {
	f, err := os.Open(b.logFile)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var counts []int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		stamp, msg, ok := strings.Cut(sc.Text(), ": ")
		if !ok || !strings.HasPrefix(msg, "New connection from ") {
			continue
		}
		sec, err := strconv.ParseInt(stamp, 10, 64)
		if err != nil {
			continue
		}
		i := int(sec - since.Unix())
		if i < 0 {
			continue
		}
		for len(counts) <= i {
			counts = append(counts, 0)
		}
		counts[i]++
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if counts == nil {
		return nil, errors.New("no connection in mosquitto's log since the return")
	}
	return counts, nil
}
