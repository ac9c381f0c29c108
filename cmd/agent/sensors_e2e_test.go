package main

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/sensors/modbus/modbustest"
	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/internal/ptytest"
)

// TestModbusFreshReadsWhilePolling runs the agent with two Modbus slaves
// on one simulated RS-485 line, polled five times a second, and asks for
// fresh reads of both over and over meanwhile: the line's witness fails
// the test on any malformed or interleaved request, or one sent within
// the inter-frame gap. Then the adapter is pulled and plugged back in
// under another tty, and the agent reads through it again by itself.
func TestModbusFreshReadsWhilePolling(t *testing.T) {
	link := ptytest.NewLink(t) // the /dev/serial/by-id/... of an adapter
	line := modbustest.NewLine(t, 19200)
	line.Slave(1).SetInput(0, 215)
	line.Slave(2).SetHolding(100, 0x0000, 0x0BB8) // uint32 3000, high word first
	line.Serve(link.Pair())

	r := startRPCRig(t, "e2e-modbus", fmt.Sprintf(`
  - name: boiler
    type: modbus-rtu
    interval: 200ms
    port: %[1]s
    baud: 19200
    slave: 1
    responseTimeout: 100ms
    registers: [{metric: temperature, function: 4, address: 0, type: int16, scale: 0.1, unit: Cel}]
  - name: meter
    type: modbus-rtu
    interval: 200ms
    port: %[1]s
    baud: 19200
    slave: 2
    responseTimeout: 100ms
    registers: [{metric: power, address: 100, type: uint32, unit: W}]
`, link.Path()))

	fresh := func(t *testing.T) map[string]map[string]any {
		t.Helper()
		id, body := rpcCommand(r.id, "getSensors", `{"sensors":["boiler","meter"],"fresh":true}`, nil)
		r.send(t, body, id, nil)
		resp, _ := r.answer(t, id)
		if resp.Status != contracts.StatusSuccess {
			t.Fatalf("getSensors fresh: status %s, error %+v", resp.Status, resp.Error)
		}
		out := map[string]map[string]any{}
		for _, s := range result(t, resp)["sensors"].([]any) {
			s := s.(map[string]any)
			out[s["name"].(string)] = s
		}
		return out
	}
	value := func(s map[string]any) any {
		if rs, _ := s["readings"].([]any); len(rs) == 1 {
			return rs[0].(map[string]any)["value"]
		}
		return nil
	}

	before := len(line.Requests())
	var wg sync.WaitGroup
	for range 3 { // three callers at once, beside the polling
		wg.Go(func() {
			for range 10 {
				got := fresh(t)
				if b, m := got["boiler"], got["meter"]; b["health"] != "ok" || value(b) != 21.5 || m["health"] != "ok" || value(m) != 3000.0 {
					t.Errorf("fresh reads: boiler %v, meter %v; want ok, 21.5 and ok, 3000", b, m)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := len(line.Requests()) - before; n < 60 {
		t.Errorf("%d requests on the line during 30 fresh reads of two slaves; want at least 60", n)
	}
	t.Logf("%d requests on the line, none malformed or interleaved", len(line.Requests()))

	// Pulled: the reads fail, naming the port.
	link.Unplug()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b := fresh(t)["boiler"]
		if b["health"] == "failing" && strings.Contains(fmt.Sprint(b["lastError"]), link.Path()) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("boiler after the unplug: %v; want failing, naming %s", b, link.Path())
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Plugged back in as another tty: the agent reads again by itself.
	line.Slave(1).SetInput(0, 230)
	line.Serve(link.Replug())
	deadline = time.Now().Add(45 * time.Second) // the port's backoff is at most 30 s
	for {
		b := fresh(t)["boiler"]
		if b["health"] == "ok" && value(b) == 23.0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("boiler after the replug: %v; want ok, 23", b)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if log := r.agent.stderr.String(); !strings.Contains(log, `"msg":"serial port lost"`) || !strings.Contains(log, `"msg":"serial port reopened"`) {
		t.Errorf("the agent's log does not tell the loss and the reopening of the port")
	}
}
