package main

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestSystemdNotify runs the agent as systemd would run a Type=notify
// service with WatchdogSec=: it gets READY=1 once the agent runs, a
// STATUS= with the uplink's state, WATCHDOG=1 again and again (at half
// the watchdog's timeout: see TestNotifierTicks), and STOPPING=1 when
// it stops.
func TestSystemdNotify(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var mu sync.Mutex
	var got []string // datagrams, in order, with when they came
	var at []time.Time
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			mu.Lock()
			got, at = append(got, string(buf[:n])), append(at, time.Now())
			mu.Unlock()
		}
	}()
	seen := func(prefix string) (n int, first time.Time) {
		mu.Lock()
		defer mu.Unlock()
		for i, g := range got {
			if strings.HasPrefix(g, prefix) {
				if n == 0 {
					first = at[i]
				}
				n++
			}
		}
		return n, first
	}
	waitFor := func(prefix string, n int, within time.Duration) {
		t.Helper()
		for deadline := time.Now().Add(within); ; time.Sleep(10 * time.Millisecond) {
			if k, _ := seen(prefix); k >= n {
				return
			}
			if time.Now().After(deadline) {
				mu.Lock()
				defer mu.Unlock()
				t.Fatalf("%d %q within %v; got %q", n, prefix, within, got)
			}
		}
	}

	addr := freeAddr(t)
	config := writeConfig(t, fmt.Sprintf(`
deviceId: notify-gw
stateDir: %s
uplink:
  mqtt:
    embeddedBroker: {enabled: true, listen: "%s"}
sensors:
  - {name: sim, type: sim, interval: 1s}
`, filepath.Join(t.TempDir(), "state"), addr))
	// WatchdogSec=0.4s: a ping every 200 ms.
	agent := startAgentWith(t, config, "NOTIFY_SOCKET="+sock, "WATCHDOG_USEC=400000")
	waitFor("READY=1", 1, 20*time.Second)
	waitFor("STATUS=uplink connected to mqtt://"+addr, 1, 20*time.Second)
	_, ready := seen("READY=1")
	// Pings keep coming, the first after READY=1. Their interval, half
	// the timeout, is TestNotifierTicks's, by synctest's clock: here a
	// busy machine would stretch the gaps the test sees.
	waitFor("WATCHDOG=1", 5, 30*time.Second)
	if _, first := seen("WATCHDOG=1"); first.Before(ready) {
		t.Errorf("the first watchdog ping at %v, before READY=1 at %v", first, ready)
	}
	if code := agent.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit code %d", code)
	}
	waitFor("STOPPING=1", 1, 5*time.Second)
}
