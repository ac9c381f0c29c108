package sdnotify

import (
	"fmt"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Environment variables systemd sets for a service.
const (
	// EnvSocket names the socket to notify.
	EnvSocket = "NOTIFY_SOCKET"
	// EnvWatchdogUsec is the watchdog's timeout, in microseconds.
	EnvWatchdogUsec = "WATCHDOG_USEC"
	// EnvWatchdogPID is the process the watchdog is meant for.
	EnvWatchdogPID = "WATCHDOG_PID"
)

// Ready tells the service manager that startup is finished (READY=1). It
// is a no-op without NOTIFY_SOCKET.
func Ready() error { return Notify("READY=1") }

// Stopping tells the service manager that the service is stopping
// (STOPPING=1). It is a no-op without NOTIFY_SOCKET.
func Stopping() error { return Notify("STOPPING=1") }

// Status sets the one-line status that `systemctl status` shows
// (STATUS=s). Newlines in s become spaces: they would start assignments of
// their own. It is a no-op without NOTIFY_SOCKET.
func Status(s string) error {
	return Notify("STATUS=" + oneLine.Replace(s))
}

// oneLine makes a status one line.
var oneLine = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ")

// Watchdog pings the service manager's watchdog (WATCHDOG=1). Call it at
// least every half of the interval [WatchdogInterval] returns. It is a
// no-op without NOTIFY_SOCKET.
func Watchdog() error { return Notify("WATCHDOG=1") }

// WatchdogInterval returns the watchdog timeout the service manager set
// for this process (the unit's WatchdogSec=, from WATCHDOG_USEC) and true;
// or 0 and false when there is no watchdog: WATCHDOG_USEC is unset, not a
// positive number, or WATCHDOG_PID names another process (a child that
// inherited the environment).
//
// The timeout is how long the manager waits for a ping before it kills
// the service; ping with [Watchdog] every half of it (as sd_watchdog_enabled(3)
// advises), so that one late tick does not restart the agent.
func WatchdogInterval() (time.Duration, bool) {
	usec, err := strconv.ParseInt(os.Getenv(EnvWatchdogUsec), 10, 64)
	if err != nil || usec <= 0 || usec > math.MaxInt64/int64(time.Microsecond) {
		return 0, false
	}
	if p := os.Getenv(EnvWatchdogPID); p != "" {
		pid, err := strconv.Atoi(p)
		if err != nil || pid != os.Getpid() {
			return 0, false
		}
	}
	return time.Duration(usec) * time.Microsecond, true
}

// Notify sends state, newline-separated VARIABLE=value assignments
// (sd_notify(3)), to the socket NOTIFY_SOCKET names, in one datagram. It
// is a no-op without NOTIFY_SOCKET. Errors wrap [ErrAddress] or the
// socket's error.
func Notify(state string) error {
	addr := os.Getenv(EnvSocket)
	if addr == "" {
		return nil
	}
	// Go's unix addresses take a leading '@' as the abstract namespace,
	// as systemd does.
	if addr[0] != '/' && addr[0] != '@' || len(addr) < 2 {
		return fmt.Errorf("%w: %q", ErrAddress, addr)
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sdnotify: %w", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("sdnotify: %w", err)
	}
	return nil
}
