package sdnotify_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/iot-hub/agent/internal/sdnotify"
)

// listen makes a unixgram socket at addr (a path, or '@' and an abstract
// name), closed when the test ends.
func listen(t *testing.T, addr string) *net.UnixConn {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		t.Fatalf("ListenUnixgram(%q) = %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// socketPath returns a path for a socket, short enough for sun_path (108
// bytes), which t.TempDir's long names can exceed.
func socketPath(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sdn")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "notify")
}

// receive reads one datagram from c, failing the test after 5s.
func receive(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("reading the notification: %v", err)
	}
	return string(buf[:n])
}

func TestSend(t *testing.T) {
	for _, addr := range []struct {
		name string
		addr func(t *testing.T) string
	}{
		{"path", socketPath},
		{"abstract", func(*testing.T) string {
			return fmt.Sprintf("@iot-hub-agent/sdnotify-test/%d/%d", os.Getpid(), rand.Uint64())
		}},
	} {
		t.Run(addr.name, func(t *testing.T) {
			a := addr.addr(t)
			c := listen(t, a)
			t.Setenv(sdnotify.EnvSocket, a)
			for _, tt := range []struct {
				name string
				call func() error
				want string
			}{
				{"Ready", sdnotify.Ready, "READY=1"},
				{"Stopping", sdnotify.Stopping, "STOPPING=1"},
				{"Watchdog", sdnotify.Watchdog, "WATCHDOG=1"},
				{"Status", func() error { return sdnotify.Status("connected to broker:8883") }, "STATUS=connected to broker:8883"},
				{"StatusNewlines", func() error { return sdnotify.Status("a\nREADY=1\r\nb\rc") }, "STATUS=a READY=1 b c"},
				{"Notify", func() error { return sdnotify.Notify("READY=1\nSTATUS=up") }, "READY=1\nSTATUS=up"},
			} {
				if err := tt.call(); err != nil {
					t.Fatalf("%s() = %v; want nil", tt.name, err)
				}
				if got := receive(t, c); got != tt.want {
					t.Errorf("%s() sent %q; want %q", tt.name, got, tt.want)
				}
			}
		})
	}
}

func TestNoSocketIsNoOp(t *testing.T) {
	t.Setenv(sdnotify.EnvSocket, "")
	for name, call := range map[string]func() error{
		"Ready": sdnotify.Ready, "Stopping": sdnotify.Stopping, "Watchdog": sdnotify.Watchdog,
		"Status": func() error { return sdnotify.Status("x") },
	} {
		if err := call(); err != nil {
			t.Errorf("%s() without %s = %v; want nil", name, sdnotify.EnvSocket, err)
		}
	}
}

func TestErrors(t *testing.T) {
	for _, tt := range []struct {
		addr string
		want error
	}{
		{"relative/path", sdnotify.ErrAddress},
		{"@", sdnotify.ErrAddress},
		{"vsock:2:1234", sdnotify.ErrAddress},
		{filepath.Join(t.TempDir(), "absent"), syscall.ENOENT},
	} {
		t.Setenv(sdnotify.EnvSocket, tt.addr)
		if err := sdnotify.Ready(); !errors.Is(err, tt.want) {
			t.Errorf("Ready() with %s=%q = %v; want %v", sdnotify.EnvSocket, tt.addr, err, tt.want)
		}
	}
}

func TestWatchdogInterval(t *testing.T) {
	self := strconv.Itoa(os.Getpid())
	for _, tt := range []struct {
		name, usec, pid string
		want            time.Duration
		ok              bool
	}{
		{"unset", "", "", 0, false},
		{"thirtySeconds", "30000000", "", 30 * time.Second, true},
		{"forThisProcess", "30000000", self, 30 * time.Second, true},
		{"forAnotherProcess", "30000000", strconv.Itoa(os.Getpid() + 1), 0, false},
		{"badPID", "30000000", "x", 0, false},
		{"zero", "0", "", 0, false},
		{"negative", "-5", "", 0, false},
		{"notANumber", "30s", "", 0, false},
		{"overflow", "9223372036854775807", "", 0, false},
		{"microsecond", "1", self, time.Microsecond, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(sdnotify.EnvWatchdogUsec, tt.usec)
			t.Setenv(sdnotify.EnvWatchdogPID, tt.pid)
			if got, ok := sdnotify.WatchdogInterval(); got != tt.want || ok != tt.ok {
				t.Errorf("WatchdogInterval() with WATCHDOG_USEC=%q WATCHDOG_PID=%q = %v, %v; want %v, %v",
					tt.usec, tt.pid, got, ok, tt.want, tt.ok)
			}
		})
	}
}
