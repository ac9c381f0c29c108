// Package sdnotify tells systemd how the agent is doing, through the
// sd_notify protocol, without linking libsystemd: each message is one
// datagram of newline-separated VARIABLE=value assignments sent to the
// unix socket named by the NOTIFY_SOCKET environment variable.
//
// There are only a few calls:
//
//   - [Ready] once the agent serves (READY=1): a unit with Type=notify
//     counts as started only then, and `systemctl start` waits for it.
//   - [Stopping] when a stop begins (STOPPING=1).
//   - [Status] for a one-line state that `systemctl status` shows
//     (STATUS=...).
//   - [Watchdog] to ping the service manager's watchdog (WATCHDOG=1), at
//     least every half of the interval [WatchdogInterval] returns.
//
// # Basics
//
// NOTIFY_SOCKET is either a filesystem path ("/run/systemd/notify") or,
// when it starts with '@', a Linux abstract socket name, whose '@' stands
// for the leading NUL byte. Without NOTIFY_SOCKET (the agent run by hand,
// in tests, in a container) every call is a no-op that returns nil, so
// callers need no special case.
//
// Each call opens a socket, sends one datagram and closes it: the calls are
// safe for concurrent use and hold nothing between them.
//
// # Caveats
//
// systemd accepts a message only from the processes NotifyAccess= allows;
// the default for Type=notify is the main process, so call these from the
// agent itself, not from a child. A datagram that was sent was not
// necessarily accepted: the protocol has no answer.
//
// The watchdog is armed by WatchdogSec= in the unit: systemd then passes
// WATCHDOG_USEC (and WATCHDOG_PID, the process meant) and kills and
// restarts the service when no WATCHDOG=1 arrives within that time. Ping
// from the loop whose liveness matters, not from a goroutine that would
// keep pinging while the rest of the agent is stuck.
//
// The environment is read at each call; nothing unsets NOTIFY_SOCKET, so
// children the agent starts would inherit it.
package sdnotify
