package main

import (
	"bytes"
	stdjson "encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/internal/mqtttest"
	"github.com/iot-hub/agent/internal/smallfs"
)

// TestDiskFull runs the agent with its state directory on a file system
// of 8 MiB and a thermal sensor on a fake sysfs, read ten times a
// second, and fills the disk while the broker is away. The agent must
// keep running; say so in one line, not one per reading; answer
// commands while the disk is still full (200 of them, whose kept
// answers need more room than the outbox's file had); deliver every
// reading it had queued, in order, once the broker is back; and queue
// and deliver readings again once there is room.
func TestDiskFull(t *testing.T) {
	t.Parallel() // it waits most of its time: beside the other slow end-to-end tests
	stateDir := smallfs.Mount(t, 8<<20)
	const id = "e2e-diskfull"
	// Persistence: the subscriber's session outlives the broker's
	// restart, so that what the agent publishes before the subscriber is
	// back waits for it.
	b := mqtttest.Start(t, mqtttest.Options{Persistence: true})
	if !b.RequirePersistence(t) {
		t.Fatal("the embedded broker keeps no session across restarts; this test needs mosquitto")
	}
	topics, _ := contracts.DeviceTopics(id)
	telemetry := b.Subscribe(t, topics.Telemetry, 1)
	healthAddr := freeAddr(t)
	r := &rpcRig{id: id, broker: b, topics: topics, replies: "e2e/replies/" + uuid.NewString(), stateDir: stateDir}
	r.client = dialRPC(t, b.Addr(), "e2e-rpc-"+id, r.replies)
	r.config = writeConfig(t, fmt.Sprintf(`
deviceId: %s
stateDir: %s
log: {level: debug, format: json}
uplink:
  mqtt:
    broker: %s
    connectTimeout: 5s
    backoffMin: 100ms
    backoffMax: 500ms
health: {enabled: true, listen: "%s"}
sensors:
  - {name: board, type: thermal, interval: 100ms, path: %s}
`, id, stateDir, b.URL(), healthAddr, fakeThermal(t)))
	r.agent = startAgent(t, r.config)
	r.waitReady(t)
	telemetry.WaitFor(t, 3, 20*time.Second)
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	refused := func() float64 {
		n, _ := scrapeAgent(t, hc, "http://"+healthAddr).Value("iot_hub_agent_outbox_dropped_total", "reason", "refused")
		return n
	}
	log := func() *agentLog { return readAgentLog(t, r.agent) }

	// The broker goes away: the readings wait in the outbox.
	b.Stop()
	r.agent.waitLog(t, `"msg":"mqtt: connection lost; reconnecting"`, 20*time.Second)
	stopped := len(log().queued())
	waitUntil(t, 30*time.Second, "30 readings queued with the broker away", func() bool { return len(log().queued()) >= stopped+30 })

	// The disk fills up.
	filler := filepath.Join(stateDir, "filler")
	filled := smallfs.Fill(t, filler)
	r.agent.waitLog(t, "no space left on device", 30*time.Second)
	waitUntil(t, 30*time.Second, "20 readings refused on the full disk", func() bool { return refused() >= 20 })
	full := log()
	fullAt := full.indexOf("no space left on device")
	beforeFull := full.queuedBefore(fullAt)
	t.Logf("disk full after %d bytes of filler; %d readings queued before, %d of them with the broker away; %v refused since",
		filled, len(beforeFull), len(beforeFull)-stopped, refused())

	// The broker is back, the disk still full: commands are answered,
	// and their answers kept.
	b.Restart(t)
	r.client = dialRPC(t, b.Addr(), "e2e-rpc-again-"+id, r.replies)
	r.waitReady(t)
	allocatedBefore := allocated(t, filepath.Join(stateDir, "outbox.db"))
	const commands = 200
	var first []byte
	var firstID string
	for i := range commands {
		cid, body := rpcCommand(id, "getDeviceState", "", nil)
		r.send(t, body, cid, nil)
		resp, m := r.answer(t, cid)
		if resp.Status != contracts.StatusSuccess {
			t.Fatalf("command %d on the full disk: answered %s, %+v", i, resp.Status, resp.Error)
		}
		if i == 0 {
			first, firstID = m.Payload, cid
		}
	}
	// Sent again, the first is answered from its memo, kept on the full
	// disk.
	_, body := rpcCommand(id, "getDeviceState", "", func(m map[string]any) { m["correlationId"] = firstID })
	r.send(t, body, firstID, nil)
	if msgs, ok := r.client.waitN(2, rpcWait, r.answerTo(firstID)); !ok || !bytes.Equal(msgs[1].Payload, first) {
		t.Fatalf("the first command sent again: %d answers, the second the same as the first: %v; want the kept answer", len(msgs), ok && bytes.Equal(msgs[1].Payload, first))
	}
	r.agent.waitLog(t, fmt.Sprintf(`"msg":"rpc: answered again: the command was run before","method":"getDeviceState","correlationId":%q`, firstID), rpcWait)
	allocatedAfter := allocated(t, filepath.Join(stateDir, "outbox.db"))
	answered := log()
	if answered.has("disk has room again") {
		t.Fatalf("the outbox found room before the filler went: the commands were not answered on a full disk")
	}
	t.Logf("%d commands answered on the full disk; the outbox file took %d bytes of the disk before them, %d after", commands, allocatedBefore, allocatedAfter)
	if allocatedAfter <= allocatedBefore {
		t.Errorf("the answers took no more of the disk than the outbox's file had (%d bytes): the test no longer shows them stored on a full disk", allocatedBefore)
	}

	// Room again: readings are queued and delivered.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	r.agent.waitLog(t, `"msg":"outbox: disk has room again`, 30*time.Second)
	roomAt := len(log().lines)
	var after []string
	waitUntil(t, 30*time.Second, "10 readings queued and delivered after the room came back", func() bool {
		after = log().queuedAfter(roomAt)
		return len(after) >= 10 && delivered(t, telemetry).has(after[:10]...)
	})

	// Every reading queued was delivered, intact; those queued before the
	// disk filled in order.
	queued := log().queued()
	var d *deliveries
	waitUntil(t, 30*time.Second, "delivery of every reading queued", func() bool {
		d = delivered(t, telemetry)
		return d.has(queued...)
	})
	order := slices.DeleteFunc(slices.Clone(d.order), func(cid string) bool { return !slices.Contains(beforeFull, cid) })
	if !slices.Equal(order, beforeFull) {
		t.Errorf("the readings queued before the disk filled were delivered in another order:\n%v\nwant\n%v", order, beforeFull)
	}

	// One line about the full disk, naming it, not one per reading.
	final := log()
	var noSpace []string
	for _, l := range final.lines {
		if strings.Contains(l.text, "no space left on device") {
			noSpace = append(noSpace, l.text)
		}
	}
	t.Logf("%d readings refused on the full disk, %d log lines about it; %d readings queued, %d delivered (%d more than once), %d of them after the room came back",
		int(refused()), len(noSpace), len(queued), len(d.order), d.duplicates, len(after))
	if len(noSpace) == 0 || len(noSpace) > 2 {
		t.Errorf("%d log lines about the full disk; want 1 or 2:\n%s", len(noSpace), strings.Join(noSpace, ""))
	} else if !strings.Contains(noSpace[0], filepath.Join(stateDir, "outbox.db")) {
		t.Errorf("the line about the full disk does not name the outbox's file:\n%s", noSpace[0])
	}
	for _, msg := range []string{"rpc: cannot queue", "mqtt: queue the online status", "outbox: commit failed", "sensor failed", "panic"} {
		if final.has(msg) {
			t.Errorf("the agent logged %q", msg)
		}
	}

	select {
	case <-r.agent.done:
		t.Fatalf("the agent exited: %v", r.agent.err)
	default:
	}
	if code := r.agent.stop(t, syscall.SIGTERM); code != exitOK {
		t.Errorf("exit code after SIGTERM = %d; want %d", code, exitOK)
	}
}

// agentLog is the agent's JSON log, decoded line by line.
type agentLog struct {
	lines []logLine
}

type logLine struct {
	text   string // as written, with its newline
	fields map[string]any
}

// readAgentLog reads the log the agent has written so far.
func readAgentLog(t *testing.T, p *agentProc) *agentLog {
	t.Helper()
	l := &agentLog{}
	for text := range strings.Lines(p.stderr.String()) {
		var fields map[string]any
		if err := stdjson.Unmarshal([]byte(text), &fields); err != nil {
			continue // the last line, being written
		}
		l.lines = append(l.lines, logLine{text: text, fields: fields})
	}
	return l
}

// has reports whether a line holds s.
func (l *agentLog) has(s string) bool { return l.indexOf(s) >= 0 }

// indexOf returns the index of the first line that holds s, or -1.
func (l *agentLog) indexOf(s string) int {
	return slices.IndexFunc(l.lines, func(line logLine) bool { return strings.Contains(line.text, s) })
}

// queued returns the correlationIds of the readings logged as queued,
// durable in the outbox, in order.
func (l *agentLog) queued() []string { return l.queuedBefore(len(l.lines)) }

// queuedBefore is queued, of the first n lines.
func (l *agentLog) queuedBefore(n int) []string {
	var ids []string
	for _, line := range l.lines[:n] {
		if line.fields["msg"] == "telemetry queued" {
			ids = append(ids, line.fields["correlationId"].(string))
		}
	}
	return ids
}

// queuedAfter is queued, of the lines after the first n.
func (l *agentLog) queuedAfter(n int) []string {
	all, before := l.queued(), l.queuedBefore(n)
	return all[len(before):]
}

// deliveries are the telemetry events a subscriber received.
type deliveries struct {
	order      []string        // correlationIds, in the order first received
	seen       map[string]bool // of order
	duplicates int             // events received again
}

func (d *deliveries) has(ids ...string) bool {
	for _, id := range ids {
		if !d.seen[id] {
			return false
		}
	}
	return true
}

// delivered decodes what s received, failing the test on any event that
// is not the board's thermal reading.
func delivered(t *testing.T, s *mqtttest.Subscriber) *deliveries {
	t.Helper()
	d := &deliveries{seen: map[string]bool{}}
	for _, m := range s.Messages() {
		msg, err := contracts.Decode(m.Payload)
		if err != nil {
			t.Fatalf("telemetry %s does not decode: %v", m.Payload, err)
		}
		tm, ok := msg.(*contracts.DeviceTelemetry)
		if !ok || len(tm.Payload.Readings) != 1 {
			t.Fatalf("telemetry %s: want one reading", m.Payload)
		}
		if rd := tm.Payload.Readings[0]; rd.Sensor != "board" || rd.Metric != "thermal_zone0" || rd.Value != 42.5 || rd.Unit != "Cel" {
			t.Fatalf("reading %+v; want board's thermal_zone0 at 42.5 Cel", rd)
		}
		if d.seen[tm.CorrelationID] {
			d.duplicates++
			continue
		}
		d.seen[tm.CorrelationID] = true
		d.order = append(d.order, tm.CorrelationID)
	}
	return d
}

// allocated returns the bytes of the disk that the file at path takes.
func allocated(t *testing.T, path string) int64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Blocks * 512
}
