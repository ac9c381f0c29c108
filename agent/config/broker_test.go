package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iot-hub/agent/agent/config"
	"github.com/iot-hub/agent/internal/testpki"
)

// brokerTLS writes a CA and a broker certificate of it to a temporary
// directory, and returns the embeddedBroker keys of a TLS broker that
// asks for client certificates of the CA, as YAML, and the directory.
func brokerTLS(t *testing.T) (keys, dir string) {
	t.Helper()
	dir = t.TempDir()
	ca := testpki.NewCA(t, "devices CA")
	_, certPEM, keyPEM := ca.Server(t)
	for name, data := range map[string][]byte{"broker.pem": certPEM, "broker.key": keyPEM, "ca.pem": ca.PEM} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	keys = "      tls:\n        certFile: " + filepath.Join(dir, "broker.pem") + "\n        keyFile: " + filepath.Join(dir, "broker.key") +
		"\n        clientCAFile: " + filepath.Join(dir, "ca.pem") + "\n"
	return keys, dir
}

// TestEmbeddedBrokerTLS: Load reads the embedded broker's TLS files,
// refusing one that is wrong at its key and line, as check-config shows
// it; with TLS the uplink's default broker is mqtts://; certificate users
// need clientCAFile, and print no password.
func TestEmbeddedBrokerTLS(t *testing.T) {
	keys, dir := brokerTLS(t)
	const head = "deviceId: gw\nuplink:\n  mqtt:\n    broker: mqtts://backend:8883\n    embeddedBroker:\n      enabled: true\n      listen: 0.0.0.0:8883\n"
	const users = "      users:\n        - {certificateCN: meter-7, publish: [meters/7/#]}\n        - {username: display-1, password: change-me-8}\n"
	path := writeFile(t, head+keys+users)
	c, err := config.Load(path)
	if err != nil {
		t.Fatalf("Load(a TLS broker with certificate users) = %v", err)
	}
	out, err := c.MaskedYAML()
	if err != nil {
		t.Fatal(err)
	}
	if s := string(out); strings.Count(s, `password: "***"`) != 1 || !strings.Contains(s, "username: meter-7") || !strings.Contains(s, "certificateCN: meter-7") {
		t.Errorf("MaskedYAML() = \n%s\nwant the password user's password masked, the certificate user's username its CN, and no password", s)
	}

	other := testpki.NewCA(t, "other")
	_, _, otherKey := other.Server(t)
	otherKeyFile := filepath.Join(dir, "other.key")
	if err := os.WriteFile(otherKeyFile, otherKey, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		yaml string
		want string // the error, after "config: FILE:"; a key left out is on its section's line
	}{
		"a missing key": {head + strings.Replace(keys, "broker.key", "missing.key", 1) + users,
			"10: uplink.mqtt.embeddedBroker.tls.keyFile: open " + filepath.Join(dir, "missing.key") + ": no such file or directory"},
		"another certificate's key": {head + strings.Replace(keys, filepath.Join(dir, "broker.key"), otherKeyFile, 1) + users,
			"10: uplink.mqtt.embeddedBroker.tls.keyFile: not the key of certFile " + filepath.Join(dir, "broker.pem") + ": tls: private key does not match public key"},
		"a CA bundle of no certificate": {head + strings.Replace(keys, "ca.pem", "broker.key", 1) + users,
			"11: uplink.mqtt.embeddedBroker.tls.clientCAFile: " + filepath.Join(dir, "broker.key") + " holds no PEM certificate"},
		"a certificate user without clientCAFile": {head + keys[:strings.Index(keys, "        clientCAFile")] + users,
			"12: uplink.mqtt.embeddedBroker.users[0].certificateCN: needs tls.clientCAFile, the CAs that client certificates must chain to"},
		"a keyFile alone": {head + "      tls: {keyFile: x.key}\n",
			"5: uplink.mqtt.embeddedBroker.tls.certFile: required with keyFile or clientCAFile: the broker's certificate, to serve TLS"},
	} {
		path := writeFile(t, tc.yaml)
		_, err := config.Load(path)
		if _, ok := errors.AsType[*config.Error](err); !ok || err.Error() != "config: "+path+":"+tc.want || !errors.Is(err, config.ErrInvalid) {
			t.Errorf("%s: Load = %v; want config: %s:%s", name, err, path, tc.want)
		}
	}

	// The uplink on the embedded broker: mqtts://, with a certificate.
	own := "deviceId: gw\nuplink:\n  mqtt:\n    embeddedBroker:\n      enabled: true\n      listen: 0.0.0.0:8883\n" + keys
	_, err = config.Parse([]byte(own), nil)
	const want = "config: uplink.mqtt.certFile: required: the uplink's broker, mqtts://127.0.0.1:8883, is the embedded broker, which asks every client for a certificate of embeddedBroker.tls.clientCAFile"
	if err == nil || err.Error() != want {
		t.Errorf("Parse(the uplink on a broker asking for certificates, without one) = %v; want %s", err, want)
	}
	c, err = config.Parse([]byte(own[:strings.Index(own, "        clientCAFile")]), nil)
	if err != nil {
		t.Fatalf("Parse(a TLS embedded broker) = %v", err)
	}
	if c.Uplink.MQTT.Broker != "mqtts://127.0.0.1:8883" {
		t.Errorf("Parse(a TLS embedded broker): uplink broker %q; want mqtts://127.0.0.1:8883", c.Uplink.MQTT.Broker)
	}
}

// writeFile writes a configuration file of text, and returns its path.
func writeFile(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
