package config_test

import (
	"strings"
	"testing"

	"github.com/iot-hub/agent/agent/config"
)

const runningFile = `# the gateway's file
deviceId: gw-1
stateDir: /var/lib/iot-hub-agent
uplink:
  mqtt:
    broker: mqtts://broker:8883
    username: gw-1
    password: s3cret
rpc:
  concurrency: 4
sensors:
  - {name: cpu, type: thermal, interval: 10s}
`

func TestChangeMergesAPatch(t *testing.T) {
	out, err := config.Change([]byte(runningFile), nil, []byte(`{"rpc": {"concurrency": 2, "timeout": "5s"}, "sensors": null, "uplink": {"mqtt": {"broker": "mqtts://other:8883"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	c, err := config.Parse(out, nil)
	if err != nil {
		t.Fatalf("Parse(%s): %v", out, err)
	}
	if c.RPC.Concurrency != 2 || c.RPC.Timeout.String() != "5s" || len(c.Sensors) != 0 ||
		c.Uplink.MQTT.Broker != "mqtts://other:8883" || c.Uplink.MQTT.Password != "s3cret" || c.Uplink.MQTT.Username != "gw-1" {
		t.Errorf("patched file %s; want the patch applied onto the running file", out)
	}
}

func TestChangeKeepsMaskedSecrets(t *testing.T) {
	running, err := config.Parse([]byte(runningFile), nil)
	if err != nil {
		t.Fatal(err)
	}
	whole, err := running.MaskedJSON() // what getConfig gives
	if err != nil {
		t.Fatal(err)
	}
	out, err := config.Change([]byte(runningFile), whole, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := config.Parse(out, nil)
	if err != nil {
		t.Fatalf("Parse(%s): %v", out, err)
	}
	if c.Uplink.MQTT.Password != "s3cret" {
		t.Errorf("password %q; want the running file's, given back masked", c.Uplink.MQTT.Password)
	}
	// A mask where the running file has no value: left out (the
	// environment may give it).
	out, err = config.Change([]byte(runningFile), nil, []byte(`{"uplink": {"kafka": {"sasl": {"password": "***"}}}}`))
	if err != nil || strings.Contains(string(out), "***") {
		t.Errorf("Change = %s, %v; want the mask left out", out, err)
	}
}

func TestChangeRefusals(t *testing.T) {
	for _, c := range []struct{ whole, patch, want string }{
		{"", `[1]`, "params.patch: want an object"},
		{"", `{"a":`, "params.patch: "},
		{`"x"`, "", "params.config: want an object"},
	} {
		var whole, patch []byte
		if c.whole != "" {
			whole = []byte(c.whole)
		}
		if c.patch != "" {
			patch = []byte(c.patch)
		}
		if _, err := config.Change([]byte(runningFile), whole, patch); err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("Change(%s, %s) = %v; want an error starting %q", c.whole, c.patch, err, c.want)
		}
	}
	// Refusal names the field as the command does.
	_, err := config.Parse([]byte("deviceId: gw-1\nrpc: {concurency: 2}\n"), nil)
	if got := config.Refusal("params.patch", err); !strings.HasPrefix(got, "params.patch.rpc.concurency: unknown key") {
		t.Errorf("Refusal = %q", got)
	}
}
