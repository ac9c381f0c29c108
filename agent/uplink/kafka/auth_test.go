package kafka_test

import (
	"context"
	"crypto/tls"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/iot-hub/agent/agent/uplink/kafka"
	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/internal/testpki"
)

// testPKI is a CA, a server certificate for 127.0.0.1 and a client
// certificate for the device, both signed by the CA.
type testPKI struct {
	ca             *testpki.CA
	server, client tls.Certificate
}

func newPKI(t testing.TB) *testPKI {
	t.Helper()
	ca := testpki.NewCA(t, "test CA")
	client, _, _ := ca.Client(t, device)
	server, _, _ := ca.Server(t)
	return &testPKI{ca: ca, server: server, client: client}
}

func (p *testPKI) serverConfig() *tls.Config { return p.ca.ServerConfig(p.server) }

func (p *testPKI) clientConfig() *tls.Config { return p.ca.ClientConfig(p.client) }

// TestTLSAndSASL produces records and answers a command through a cluster
// that wants a client certificate, or SASL (PLAIN over TLS, SCRAM).
func TestTLSAndSASL(t *testing.T) {
	pki := newPKI(t)
	for _, tc := range []struct {
		name    string
		cluster []kfake.Opt
		tls     bool
		sasl    kafka.SASL
		client  []kgo.Opt // for the test's own clients
	}{
		{name: "tls-client-certificate", cluster: []kfake.Opt{kfake.TLS(pki.serverConfig())}, tls: true,
			client: []kgo.Opt{kgo.DialTLSConfig(pki.clientConfig())}},
		{name: "sasl-plain-over-tls", tls: true,
			cluster: []kfake.Opt{kfake.TLS(pki.serverConfig()), kfake.EnableSASL(), kfake.Superuser("PLAIN", "agent", "s3cret")},
			sasl:    kafka.SASL{Mechanism: kafka.MechanismPlain, User: "agent", Password: "s3cret"},
			client:  []kgo.Opt{kgo.DialTLSConfig(pki.clientConfig()), kgo.SASL(plain.Auth{User: "agent", Pass: "s3cret"}.AsMechanism())}},
		{name: "sasl-scram-sha-256",
			cluster: []kfake.Opt{kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "agent", "s3cret")},
			sasl:    kafka.SASL{Mechanism: kafka.MechanismSCRAMSHA256, User: "agent", Password: "s3cret"},
			client:  []kgo.Opt{kgo.SASL(scram.Auth{User: "agent", Pass: "s3cret"}.AsSha256Mechanism())}},
		{name: "sasl-scram-sha-512",
			cluster: []kfake.Opt{kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "agent", "s3cret")},
			sasl:    kafka.SASL{Mechanism: kafka.MechanismSCRAMSHA512, User: "agent", Password: "s3cret"},
			client:  []kgo.Opt{kgo.SASL(scram.Auth{User: "agent", Pass: "s3cret"}.AsSha512Mechanism())}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, tc.cluster...)
			box := openStore(t, t.TempDir())
			a := newAnswerer(t, box)
			cfg := kafka.Config{SASL: tc.sasl}
			if tc.tls {
				cfg.TLS = pki.clientConfig()
			}
			startUplink(t, c, box, cfg, a.handle)
			if err := box.Append(context.Background(), testRecords(20, "gw-1")...); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 30*time.Second, "the cursor stored", func() bool { return cursorAt(t, box, partitions) >= 0 })
			prod, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}, tc.client...)...)
			if err != nil {
				t.Fatal(err)
			}
			defer prod.Close()
			ours := sendCommands(t, prod, partitions, device)
			waitFor(t, 30*time.Second, "the command answered", func() bool { return a.ran() == 1 })
			got := newReader(t, c, produced, tc.client...).read(t, 22, 300*time.Millisecond, 30*time.Second)
			var rest []*kgo.Record
			answered := false
			for _, r := range got {
				switch {
				case r.Topic == contracts.TopicDeviceEvents:
				case r.Topic == contracts.TopicDeviceResponses && header(r, contracts.HeaderCorrelationID) == ours[0]:
					answered = true
				default:
					rest = append(rest, r)
				}
			}
			checkStream(t, rest, 20)
			if !answered {
				t.Error("the command's answer did not reach device.responses")
			}
		})
	}
}

// TestWrongPasswordKeepsEverything: refused by SASL, the uplink reports
// itself not connected, keeps the records, and stops in time.
func TestWrongPasswordKeepsEverything(t *testing.T) {
	c := newCluster(t, kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "agent", "s3cret"))
	box := openStore(t, t.TempDir())
	if err := box.Append(context.Background(), testRecords(20, "gw-1")...); err != nil {
		t.Fatal(err)
	}
	const timeout = 500 * time.Millisecond
	r := startUplink(t, c, box, kafka.Config{ConnectTimeout: timeout,
		SASL: kafka.SASL{Mechanism: kafka.MechanismSCRAMSHA256, User: "agent", Password: "wrong"}}, nil)
	waitFor(t, 10*time.Second, "a refused connection", func() bool {
		st := r.up.State()
		return !st.Connected && !st.Since.IsZero()
	})
	start := time.Now()
	r.stop()
	if d := time.Since(start); d > 4*timeout+2*time.Second {
		t.Errorf("stop took %v; want about ConnectTimeout (%v)", d, timeout)
	}
	if st := box.Stats(); st.Telemetry.Depth+st.Control.Depth != 22 || st.InFlight != 0 {
		t.Errorf("after the stop: %+v; want the 20 records and the two statuses, none in flight", st)
	}
}
