package main

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/internal/sdnotify"
)

// notifier tells systemd (Type=notify) how the agent is doing: READY=1
// once it runs, WATCHDOG=1 from the main loop at half of WatchdogSec,
// STATUS= with the uplink's state, STOPPING=1 when it stops. Without
// NOTIFY_SOCKET (not under systemd) it does nothing.
type notifier struct {
	on     bool // NOTIFY_SOCKET is set
	log    *slog.Logger
	up     *link
	box    *outbox.Store
	every  time.Duration // the watchdog's ping interval; 0 without a watchdog
	status string        // the last STATUS= sent
	failed bool          // a notification failed (logged once)
}

func newNotifier(log *slog.Logger, up *link, box *outbox.Store) *notifier {
	n := &notifier{on: os.Getenv(sdnotify.EnvSocket) != "", log: log, up: up, box: box}
	if d, ok := sdnotify.WatchdogInterval(); ok {
		n.every = d / 2
	}
	return n
}

// tick returns the channel of the watchdog's pings and status refreshes,
// and its stop; nil when not under systemd (a nil channel never fires in
// a select).
func (n *notifier) tick() (<-chan time.Time, func()) {
	if !n.on {
		return nil, func() {}
	}
	// The status is refreshed with the pings, or every statusEvery.
	every := n.every
	if every == 0 || every > statusEvery {
		every = statusEvery
	}
	t := time.NewTicker(every)
	return t.C, t.Stop
}

// statusEvery bounds how stale STATUS= gets.
const statusEvery = 10 * time.Second

// ready says the agent runs: the outbox is open, the sensors and the
// uplink started.
func (n *notifier) ready() {
	n.check(sdnotify.Ready())
	n.refresh()
}

// ping pings the watchdog, if there is one, and refreshes the status.
func (n *notifier) ping() {
	if n.every > 0 {
		n.check(sdnotify.Watchdog())
	}
	n.refresh()
}

// refresh sends STATUS= when it changed: the uplink's state and the
// outbox's backlog, as `systemctl status` shows them.
func (n *notifier) refresh() {
	if !n.on {
		return
	}
	s := n.up.state()
	st := n.box.Stats()
	status := "uplink disconnected from " + s.Broker
	if s.Connected {
		status = "uplink connected to " + s.Broker
	}
	status += fmt.Sprintf("; outbox %d control, %d telemetry queued", st.Control.Depth, st.Telemetry.Depth)
	if status == n.status {
		return
	}
	n.status = status
	n.check(sdnotify.Status(status))
}

// stopping says the agent is stopping.
func (n *notifier) stopping() {
	n.check(sdnotify.Stopping())
	n.check(sdnotify.Status("stopping"))
}

// check logs the first failed notification: systemd then restarts the
// agent when the watchdog is armed, and the log says why.
func (n *notifier) check(err error) {
	if err != nil && !n.failed {
		n.failed = true
		n.log.Error("agent: cannot notify systemd", "err", err)
	}
}
