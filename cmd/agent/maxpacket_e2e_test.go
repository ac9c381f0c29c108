package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/iot-hub/agent/agent/rpc"
	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/internal/mqtttest"
)

// A command far larger than rpc.DefaultMaxCommandBytes never reaches the agent:
// its CONNECT asks for a Maximum Packet Size, so mosquitto drops the
// message (MQTT v5 §3.1.2.11.4) instead of sending the agent 10 MB that
// it would read whole before refusing it. The agent's anonymous memory
// stays flat and the command after it is answered.
func TestOversizedCommandNeverReachesTheAgent(t *testing.T) {
	pub := mqtttest.LookClient(t, "mosquitto_pub")
	r := startRPCRig(t, "e2e-maxpacket", "  - {name: sim, type: sim, interval: 1s}\n")
	if r.broker.Embedded() {
		t.Fatal("this test reads mosquitto's log; the embedded broker runs instead")
	}
	big := filepath.Join(t.TempDir(), "big.json")
	const size = 10 << 20
	_, body := rpcCommand(r.id, "getDeviceState", fmt.Sprintf(`{"pad":%q}`, strings.Repeat("x", size)), nil)
	if err := os.WriteFile(big, body, 0o600); err != nil {
		t.Fatal(err)
	}

	before := rssAnon(t, r.agent)
	_, port, _ := net.SplitHostPort(r.broker.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, pub, "-V", "5", "-h", "127.0.0.1", "-p", port, "-q", "1",
		"-t", r.topics.Commands, "-f", big).CombinedOutput()
	if err != nil {
		t.Fatalf("mosquitto_pub: %v\n%s", err, out)
	}
	id, next := rpcCommand(r.id, "getDeviceState", "", nil)
	r.send(t, next, id, nil)
	if resp, _ := r.answer(t, id); resp.Status != contracts.StatusSuccess {
		t.Fatalf("the command after the oversized one: status %s, error %+v", resp.Status, resp.Error)
	}
	after := rssAnon(t, r.agent)
	t.Logf("agent RssAnon %d kB before a %d-byte command, %d kB once the next command is answered", before, len(body), after)

	// mosquitto sends in order: the answered command came after the drop.
	drop := "Dropping too large outgoing PUBLISH for " + r.id
	if log, _ := os.ReadFile(r.broker.LogFile); !bytes.Contains(log, []byte(drop)) {
		t.Errorf("mosquitto's log has no %q: the oversized command was sent to the agent", drop)
	}
	if grown := after - before; grown > 8<<10 {
		t.Errorf("the agent's RssAnon grew by %d kB with a %d-byte command; want it flat (under 8 MiB)", grown, len(body))
	}
	for _, m := range r.client.matching(func(m *paho.Publish) bool { return m.Topic == r.topics.DLQ }) {
		t.Errorf("dead letter %.200s: the oversized command reached the agent", m.Payload)
	}
}

// A command of exactly rpc.DefaultMaxCommandBytes, with MQTT v5 properties
// beside it (Response Topic, Correlation Data, Content Type and 60 KiB of
// user properties), still arrives: the Maximum Packet Size leaves room
// for the rest of the PUBLISH.
func TestCommandAtTheSizeLimitIsAnswered(t *testing.T) {
	r := startRPCRig(t, "e2e-maxpacket-limit", "  - {name: sim, type: sim, interval: 1s}\n")
	id, body := rpcCommand(r.id, "getDeviceState", "", nil)
	// JSON allows whitespace after the value: the command is padded to
	// the limit exactly.
	body = append(body, bytes.Repeat([]byte(" "), rpc.DefaultMaxCommandBytes-len(body))...)
	r.send(t, body, id, func(p *paho.PublishProperties) {
		for i := range 6 {
			p.User = append(p.User, paho.UserProperty{Key: fmt.Sprintf("pad-%d", i), Value: strings.Repeat("u", 10<<10)})
		}
	})
	resp, _ := r.answer(t, id)
	if resp.Status != contracts.StatusSuccess {
		t.Errorf("a command of %d bytes: status %s, error %+v; want success", len(body), resp.Status, resp.Error)
	}
}

// rssAnon returns the agent's resident anonymous memory in kB (its heap
// and stacks), from /proc/PID/status.
func rssAnon(t *testing.T, p *agentProc) int {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		t.Fatalf("the agent's memory: %v", err)
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "RssAnon:"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				t.Fatalf("/proc/%d/status: RssAnon %q", p.cmd.Process.Pid, v)
			}
			return kb
		}
	}
	t.Fatalf("/proc/%d/status has no RssAnon", p.cmd.Process.Pid)
	return 0
}
