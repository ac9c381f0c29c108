package mqtt_test

import (
	"context"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/agent/outbox/outboxtest"
	"github.com/iot-hub/agent/agent/uplink/mqtt"
	"github.com/iot-hub/agent/internal/lograte"
	"github.com/iot-hub/agent/internal/mqtttest"
	"github.com/iot-hub/agent/internal/syncbuf"
)

// countLines returns how many lines of logs have the message msg, and
// the lines' suppressed counts added up.
func countLines(logs, msg string) (lines, suppressed int) {
	for l := range strings.Lines(logs) {
		if !strings.Contains(l, `msg="`+msg+`"`) {
			continue
		}
		lines++
		if _, n, ok := strings.Cut(l, lograte.SuppressedKey+"="); ok {
			k, _ := strconv.Atoi(strings.Fields(n)[0])
			suppressed += k
		}
	}
	return lines, suppressed
}

// maxLines is how many lines of one kind a limit of one a minute allows
// over elapsed.
func maxLines(elapsed time.Duration) int { return 1 + int(elapsed/lograte.DefaultInterval) }

// A broker that refuses every publish: every record is quarantined, and
// the uplink writes a line a minute about it, not one per record.
func TestRefusedPublishesAreLoggedOnceAMinute(t *testing.T) {
	const n = 300
	forbidden := "iot/v1/devices/" + device + "/forbidden"
	b := mqtttest.Start(t, mqtttest.Options{ACL: "topic readwrite #\ntopic deny " + forbidden})
	var logs syncbuf.Buffer
	start := time.Now()
	r := startUplink(t, b, t.TempDir(), mqtt.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	recs := make([]outbox.Record, n)
	for i := range recs {
		recs[i] = outbox.Record{Lane: outbox.LaneControl, Topic: forbidden, Payload: []byte("refused")}
	}
	if err := r.box.Append(context.Background(), recs...); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "every refused record to be quarantined", func() bool { return r.box.Stats().Quarantined == n })
	elapsed := time.Since(start)
	lines, suppressed := countLines(logs.String(), "mqtt: publish refused for good; record quarantined")
	if lines < 1 || lines > maxLines(elapsed) || lines+suppressed > n {
		t.Errorf("%d records refused in %v: %d lines (suppressed %d before the last); want 1 to %d",
			n, elapsed, lines, suppressed, maxLines(elapsed))
	}
}

// Two gateways with one device id: the broker hands the session to each
// in turn (session taken over), and each reconnects at once. The
// connections flap as fast as the network goes; the lines do not.
func TestFlappingConnectionIsLoggedOnceAMinute(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{})
	var logs syncbuf.Buffer
	cfg := mqtt.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	start := time.Now()
	one := startUplink(t, b, t.TempDir(), cfg)
	two := startUplink(t, b, t.TempDir(), cfg)
	const flaps = 50
	waitUntil(t, "the connections to flap", func() bool { return one.up.State().Reconnects+two.up.State().Reconnects >= flaps })
	one.stop()
	two.stop()
	elapsed := time.Since(start)
	for _, msg := range []string{"mqtt: connected", "mqtt: connection lost; reconnecting"} {
		// Two uplinks, each with its limits.
		if lines, _ := countLines(logs.String(), msg); lines < 1 || lines > 2*maxLines(elapsed) {
			t.Errorf("%d connections in %v: %d %q lines; want 1 to %d", flaps, elapsed, lines, msg, 2*maxLines(elapsed))
		}
	}
}

// A connection the uplink was asked for (Reconnect: a certificate
// rotation's trial, or its rollback) is logged whatever the limit: its
// line says which certificate the broker took.
func TestRequestedConnectionIsAlwaysLogged(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{})
	var logs syncbuf.Buffer
	r := startUplink(t, b, t.TempDir(), mqtt.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	defer r.stop()
	waitUntil(t, "the first connection", func() bool { return r.up.State().Connected })
	for i := 1; i <= 3; i++ {
		r.up.Reconnect()
		waitUntil(t, "the connection asked for", func() bool { return r.up.State().Reconnects >= i && r.up.State().Connected })
	}
	if lines, _ := countLines(logs.String(), "mqtt: connected"); lines != 4 {
		t.Errorf("%d \"mqtt: connected\" lines for the first connection and 3 asked for within a minute; want 4:\n%s", lines, logs.String())
	}
}

// A broker that hangs up on every connection: the attempts go on at the
// backoff's pace (a second apart after a Reconnect, whatever the
// backoff), the lines once a minute.
func TestRefusedConnectionsAreLoggedOnceAMinute(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var accepted atomic.Int32
	served := make(chan struct{})
	go func() {
		defer close(served)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-served })

	var logs syncbuf.Buffer
	box, _ := outboxtest.Open(t, outbox.Config{})
	up, err := mqtt.New(mqtt.Config{DeviceID: device, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Settings: mqtt.Settings{Broker: "mqtt://" + ln.Addr().String(), BackoffMin: 10 * time.Millisecond, BackoffMax: 20 * time.Millisecond}}, box, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- up.Run(ctx) }()
	const n = 20
	waitUntil(t, "connection attempts", func() bool { return accepted.Load() >= n })
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
	elapsed := time.Since(start)
	if lines, _ := countLines(logs.String(), "mqtt: connection attempt failed"); lines < 1 || lines > maxLines(elapsed) {
		t.Errorf("%d attempts refused in %v: %d lines; want 1 to %d", accepted.Load(), elapsed, lines, maxLines(elapsed))
	}
}
