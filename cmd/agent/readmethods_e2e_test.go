package main

import (
	"bytes"
	stdjson "encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iot-hub/agent/contracts"
)

// The methods that read the agent: getLogs, getConfig.

// TestGetLogs: the backend asks the running agent for its latest log
// lines: they are its own (its start, with its device id), JSON objects
// oldest first, filtered by level when asked; the MQTT password it was
// given is in none of them. With rpc.disable: [getLogs] the method is
// answered METHOD_NOT_FOUND, switched off.
func TestGetLogs(t *testing.T) {
	const id, password = "gw-getlogs", "s3cret-Pa55word-e2e"
	zones := t.TempDir()
	writeFile(t, filepath.Join(zones, "thermal_zone0", "temp"), "not a number\n") // read, and failing
	r := launchRPCRig(t, id, fmt.Sprintf(`    password: %s
    username: gateway
sensors:
  - {name: sim, type: sim, interval: 100ms}
  - {name: broken, type: thermal, interval: 100ms, path: %s}
`, password, zones))
	r.waitReady(t)
	r.agent.waitLog(t, `"msg":"sensor failed","sensor":"broken"`, 30*time.Second)

	type result struct {
		Lines   []map[string]any `json:"lines"`
		Matched int              `json:"matched"`
	}
	getLogs := func(params string) (result, []byte) {
		t.Helper()
		cid, body := rpcCommand(id, "getLogs", params, nil)
		r.send(t, body, cid, nil)
		resp, m := r.answer(t, cid)
		if resp.Status != contracts.StatusSuccess {
			t.Fatalf("getLogs %s answered %+v", params, resp.Error)
		}
		var res result
		if err := stdjson.Unmarshal(resp.Payload.Result, &res); err != nil {
			t.Fatal(err)
		}
		return res, m.Payload
	}

	all, raw := getLogs(`{"lines": 5000}`)
	if len(all.Lines) == 0 || all.Lines[0]["msg"] != "agent starting" || all.Lines[0]["deviceId"] != id {
		t.Fatalf("getLogs' first line %v; want the agent's start, with its device id", all.Lines[:min(len(all.Lines), 1)])
	}
	if bytes.Contains(raw, []byte(password)) {
		t.Errorf("the MQTT password is in getLogs' answer")
	}
	warn, _ := getLogs(`{"level": "warn", "lines": 3}`)
	if len(warn.Lines) == 0 || warn.Matched < len(warn.Lines) || len(warn.Lines) > 3 {
		t.Errorf("warn and above, 3 lines: %d lines of %d matched", len(warn.Lines), warn.Matched)
	}
	for _, l := range warn.Lines {
		if lv, _ := l["level"].(string); lv != "WARN" && lv != "ERROR" {
			t.Errorf("a %s line among those at warn and above: %v", lv, l)
		}
	}
	if !strings.Contains(fmt.Sprint(warn.Lines), "broken") {
		t.Errorf("the failing sensor's warning is not among the last warnings: %v", warn.Lines)
	}
}

// TestGetLogsSwitchedOff: with rpc.disable: [getLogs], getLogs is
// answered METHOD_NOT_FOUND, saying it is switched off.
func TestGetLogsSwitchedOff(t *testing.T) {
	const id = "gw-getlogs-off"
	r := launchRPCRig(t, id, "rpc:\n  disable: [getLogs]\n")
	r.waitReady(t)
	cid, body := rpcCommand(id, "getLogs", "", nil)
	r.send(t, body, cid, nil)
	resp, _ := r.answer(t, cid)
	if resp.Error == nil || resp.Error.Code != contracts.CodeMethodNotFound || !strings.Contains(resp.Error.Message, "switched off") {
		t.Errorf("getLogs switched off answered %s %+v; want METHOD_NOT_FOUND, switched off", resp.Status, resp.Error)
	}
}

// TestGetConfig: getConfig answers the configuration the agent runs
// with, every key with its default filled in, as the file's keys; the
// MQTT password it was given is masked and in no byte of the answer.
func TestGetConfig(t *testing.T) {
	const id, password = "gw-getconfig", "an0ther-s3cret-e2e"
	r := launchRPCRig(t, id, fmt.Sprintf("    password: %s\n    username: gateway\nrpc:\n  timeout: 7s\n", password))
	r.waitReady(t)
	cid, body := rpcCommand(id, "getConfig", "", nil)
	r.send(t, body, cid, nil)
	resp, m := r.answer(t, cid)
	if resp.Status != contracts.StatusSuccess {
		t.Fatalf("getConfig answered %+v", resp.Error)
	}
	if bytes.Contains(m.Payload, []byte(password)) {
		t.Errorf("the MQTT password is in getConfig's answer")
	}
	var res struct {
		Config struct {
			DeviceID string `json:"deviceId"`
			Uplink   struct {
				MQTT struct {
					Broker   string `json:"broker"`
					Username string `json:"username"`
					Password string `json:"password"`
				} `json:"mqtt"`
			} `json:"uplink"`
			RPC struct {
				Timeout        string `json:"timeout"`
				MaxCommandByes string `json:"maxCommandBytes"`
			} `json:"rpc"`
			Log struct {
				RingBytes string `json:"ringBytes"`
			} `json:"log"`
		} `json:"config"`
	}
	if err := stdjson.Unmarshal(resp.Payload.Result, &res); err != nil {
		t.Fatal(err)
	}
	c := res.Config
	if c.DeviceID != id || c.Uplink.MQTT.Broker != r.broker.URL() || c.Uplink.MQTT.Username != "gateway" || c.Uplink.MQTT.Password != "***" ||
		c.RPC.Timeout != "7s" || c.RPC.MaxCommandByes != "64KiB" || c.Log.RingBytes != "256KiB" {
		t.Errorf("getConfig = %+v; want %s on %s, user gateway, password ***, rpc.timeout 7s with the defaults filled in", c, id, r.broker.URL())
	}
}
