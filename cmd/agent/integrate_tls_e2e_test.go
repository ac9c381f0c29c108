package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/internal/mqtttest"
	"github.com/iot-hub/agent/internal/testpki"
)

// TestIntegrateStockClientCertificate: a device that is Debian's stock
// mosquitto_pub, logging in to the agent's embedded broker with a client
// certificate over TLS, as the docs' openssl recipe has it: its message
// arrives on the gateway's events topic at mosquitto; outside its topic
// filters it is refused; a certificate of another CA gets no connection.
func TestIntegrateStockClientCertificate(t *testing.T) {
	pub := mqtttest.LookClient(t, "mosquitto_pub")
	const id = "gw-integrate-tls"
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	ca, other := testpki.NewCA(t, "devices CA"), testpki.NewCA(t, "another CA")
	_, serverPEM, serverKey := ca.Server(t)
	_, meterPEM, meterKey := ca.Client(t, "meter-7")
	_, strangerPEM, strangerKey := other.Client(t, "meter-7")
	caFile := write("ca.pem", ca.PEM)
	local := freeAddr(t)
	r := launchRPCRig(t, id, fmt.Sprintf(`    embeddedBroker:
      enabled: true
      listen: %s
      tls: {certFile: %s, keyFile: %s, clientCAFile: %s}
      users:
        - {certificateCN: meter-7, publish: ["meters/7/#"]}
      integrate: {topics: ["meters/#"]}
sensors:
  - {name: sim, type: sim, interval: 1s}
`, local, write("broker.pem", serverPEM), write("broker.key", serverKey), caFile))
	events := r.broker.Subscribe(t, r.topics.Events, 1)
	r.waitReady(t)

	_, port, _ := net.SplitHostPort(local)
	publish := func(cert, key []byte, topic, message string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, pub, "-V", "5", "-h", "localhost", "-p", port, "-q", "1",
			"--cafile", caFile, "--cert", write("device.pem", cert), "--key", write("device.key", key),
			"-i", "meter-7", "-t", topic, "-m", message).CombinedOutput()
		return string(out), err
	}

	if out, err := publish(meterPEM, meterKey, "meters/7/power", `{"w":1520}`); err != nil {
		t.Fatalf("mosquitto_pub with meter-7's certificate: %v\n%s", err, out)
	}
	ev := waitEvent(t, events, rpcWait, func(ev *contracts.IntegrationMQTTReceived) bool { return ev.Payload.Topic == "meters/7/power" })
	if ev.Payload.Payload != `{"w":1520}` || ev.Source.ID != id {
		t.Errorf("event %+v from %+v; want meter-7's {\"w\":1520} from %s", ev.Payload, ev.Source, id)
	}

	out, err := publish(meterPEM, meterKey, "meters/8/power", "1")
	if !strings.Contains(strings.ToLower(out), "not authorized") {
		t.Errorf("mosquitto_pub as meter-7 on meters/8/power: %v, %q; want the publish refused, not authorized", err, out)
	}
	stranger, err := publish(strangerPEM, strangerKey, "meters/7/power", "2")
	if err == nil {
		t.Errorf("mosquitto_pub with a certificate of another CA succeeded (%q); want no connection", stranger)
	}
	t.Logf("outside its filters: %s; another CA's certificate: %v, %s", strings.TrimSpace(out), err, strings.TrimSpace(stranger))
}
