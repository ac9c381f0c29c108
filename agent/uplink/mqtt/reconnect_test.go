package mqtt_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/agent/uplink/mqtt"
	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/internal/mqtttest"
)

// swapSource is a CertSource whose certificate the test swaps, as the
// rotation manager does; it counts its calls, one per connection attempt.
type swapSource struct {
	mu    sync.Mutex
	cert  *tls.Certificate
	calls int
}

var _ mqtt.CertSource = (*swapSource)(nil)

func (s *swapSource) ClientCertificate() (*tls.Certificate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	return s.cert, nil
}

func (s *swapSource) set(c *tls.Certificate) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cert = c
}

func (s *swapSource) attempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// deviceCert makes a key and a certificate for the test device (CN the
// device id) signed by b's CA, valid for an hour.
func deviceCert(t *testing.T, b *mqtttest.Broker) (*tls.Certificate, *big.Int) {
	t.Helper()
	now := time.Now()
	pair, _, _ := b.ClientCert(t, device, now.Add(-time.Minute), now.Add(time.Hour))
	return &pair, pair.Leaf.SerialNumber
}

// connections records what OnConnect reports.
type connections struct {
	mu      sync.Mutex
	leaves  []*x509.Certificate
	changed chan struct{} // closed and replaced on every report
}

func newConnections() *connections { return &connections{changed: make(chan struct{})} }

func (c *connections) onConnect(leaf *x509.Certificate) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.leaves = append(c.leaves, leaf)
	close(c.changed)
	c.changed = make(chan struct{})
}

// waitFor waits until a connection reported after the first since ones
// presented the certificate with serial, and returns how many were
// reported by then; it fails the test after timeout.
func (c *connections) waitFor(t *testing.T, since int, serial *big.Int, timeout time.Duration) int {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		leaves, changed := c.leaves, c.changed
		c.mu.Unlock()
		for i := since; i < len(leaves); i++ {
			if leaves[i] != nil && leaves[i].SerialNumber.Cmp(serial) == 0 {
				return len(leaves)
			}
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("no connection with certificate %s reported within %v; reported since: %v", serial.Text(16), timeout, serials(leaves[since:]))
		}
	}
}

// since returns the leaves reported after the first n.
func (c *connections) since(n int) []*x509.Certificate {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*x509.Certificate(nil), c.leaves[n:]...)
}

// serials lists the leaves' serial numbers in hex ("none" for nil).
func serials(leaves []*x509.Certificate) []string {
	var out []string
	for _, l := range leaves {
		if l == nil {
			out = append(out, "none")
			continue
		}
		out = append(out, l.SerialNumber.Text(16))
	}
	return out
}

func checkCertificate(t *testing.T, up *mqtt.Uplink, want *big.Int) {
	t.Helper()
	if got := up.Certificate(); got == nil || got.SerialNumber.Cmp(want) != 0 {
		t.Errorf("Certificate() = %v; want serial %s", got, want.Text(16))
	}
}

func TestReconnectPresentsTheSwappedCertificate(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{RequireClientCert: true, ClientCN: device})
	sub := b.Subscribe(t, "iot/v1/devices/"+device+"/+", 1)
	certA, serialA := deviceCert(t, b)
	certB, serialB := deviceCert(t, b)
	src := &swapSource{cert: certA}
	conns := newConnections()
	r := startUplink(t, b, t.TempDir(), mqtt.Config{Certificates: src, OnConnect: conns.onConnect})
	n := conns.waitFor(t, 0, serialA, 20*time.Second)
	checkCertificate(t, r.up, serialA)

	src.set(certB)
	r.up.Reconnect()
	conns.waitFor(t, n, serialB, 20*time.Second)
	checkCertificate(t, r.up, serialB)

	rec := outbox.Record{Lane: outbox.LaneControl, Topic: topics.Events, Key: []byte(device), Payload: []byte("after the swap")}
	if err := r.box.Append(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	var msgs []mqtttest.Message
	waitUntil(t, "the record published after the swap", func() bool {
		msgs = sub.Messages()
		for _, m := range msgs {
			if bytes.Equal(m.Payload, rec.Payload) {
				return true
			}
		}
		return false
	})
	// Reconnect ends the old connection with a DISCONNECT: the broker
	// publishes no offline Last Will for a certificate swap.
	for _, m := range msgs {
		if m.Topic != topics.Status {
			continue
		}
		if st, err := contracts.Decode(m.Payload); err != nil || st.(*contracts.DeviceStatusChanged).Payload.Status != contracts.DeviceOnline {
			t.Errorf("status %s during the swap; want online only", m.Payload)
		}
	}
}

func TestReconnectRollsBackToTheOldCertificate(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{RequireClientCert: true, ClientCN: device})
	certA, serialA := deviceCert(t, b)
	certB, serialB := deviceCert(t, b)
	src := &swapSource{cert: certA}
	conns := newConnections()
	// A backoff from 1 s up to 2 min: attempts up to 1, 2, 4, 8 s ... apart
	// (full jitter), unless Reconnect hurries them to at most 1 s apart.
	r := startUplink(t, b, t.TempDir(), mqtt.Config{Certificates: src, OnConnect: conns.onConnect,
		Settings: mqtt.Settings{BackoffMin: time.Second, BackoffMax: 2 * time.Minute}})
	n := conns.waitFor(t, 0, serialA, 20*time.Second)
	b.Revoke(t, serialB) // mosquitto restarts
	n = conns.waitFor(t, n, serialA, 30*time.Second)

	src.set(certB)
	before, start := src.attempts(), time.Now()
	r.up.Reconnect()
	// Eight attempts take 7 s at most (plus the attempts themselves) at
	// 1 s apart; with the backoff, whose seven waits are drawn from
	// [0, 1 s], [0, 2 s] ... [0, 64 s], under 12 s about once in a
	// thousand runs.
	const want, within = 8, 12 * time.Second
	for src.attempts()-before < want {
		if time.Since(start) > within {
			t.Fatalf("%d connection attempts in %v after Reconnect with a refused certificate; want %d (at most 1 s apart)",
				src.attempts()-before, within, want)
		}
		time.Sleep(10 * time.Millisecond) // polling the count; the deadline bounds it
	}
	t.Logf("%d attempts with the revoked certificate in %v", src.attempts()-before, time.Since(start))
	if r.up.State().Connected {
		t.Error("State().Connected with the revoked certificate")
	}

	src.set(certA)
	start = time.Now()
	r.up.Reconnect()
	conns.waitFor(t, n, serialA, 10*time.Second)
	t.Logf("online again with the old certificate %v after the rollback's Reconnect", time.Since(start))
	for _, l := range conns.since(n) {
		if l == nil || l.SerialNumber.Cmp(serialA) != 0 {
			t.Errorf("OnConnect reported %v after B was revoked; want only A (%s)", serials(conns.since(n)), serialA.Text(16))
			break
		}
	}
	checkCertificate(t, r.up, serialA)
}

// attemptLog is a slog handler that signals each failed connection
// attempt the uplink logs.
type attemptLog struct{ failed chan struct{} }

func (h attemptLog) Enabled(context.Context, slog.Level) bool { return true }
func (h attemptLog) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h attemptLog) WithGroup(string) slog.Handler            { return h }
func (h attemptLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "mqtt: connection attempt failed" {
		select {
		case h.failed <- struct{}{}:
		default:
		}
	}
	return nil
}

// A Reconnect while the uplink waits out a long backoff ends the wait.
func TestReconnectEndsTheBackoffWait(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{RequireClientCert: true, ClientCN: device})
	certA, serialA := deviceCert(t, b)
	certB, serialB := deviceCert(t, b)
	b.Revoke(t, serialB)
	src := &swapSource{cert: certB}
	conns := newConnections()
	failed := make(chan struct{}, 1)
	r := startUplink(t, b, t.TempDir(), mqtt.Config{Certificates: src, OnConnect: conns.onConnect,
		Settings: mqtt.Settings{BackoffMin: time.Hour, BackoffMax: time.Hour}, Logger: slog.New(attemptLog{failed})})
	select {
	case <-failed: // the uplink now waits up to an hour (under 10 s 3 times in 1,000)
	case <-time.After(20 * time.Second):
		t.Fatal("no failed connection attempt with the revoked certificate")
	}
	checkCertificate(t, r.up, serialB) // no connection yet: the source's

	src.set(certA)
	r.up.Reconnect()
	conns.waitFor(t, 0, serialA, 10*time.Second)
	if got := conns.since(0); len(got) != 1 {
		t.Errorf("OnConnect reported %v; want A only", serials(got))
	}
}

// Without Certificates, OnConnect reports the certificate of CertFile,
// and Reconnect connects again with it.
func TestOnConnectReportsTheCertificateOfCertFile(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{RequireClientCert: true, ClientCN: device})
	pair, err := tls.LoadX509KeyPair(b.ClientCertFile, b.ClientKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	serial := pair.Leaf.SerialNumber
	conns := newConnections()
	r := startUplink(t, b, t.TempDir(), mqtt.Config{OnConnect: conns.onConnect})
	n := conns.waitFor(t, 0, serial, 20*time.Second)
	checkCertificate(t, r.up, serial)
	r.up.Reconnect()
	conns.waitFor(t, n, serial, 20*time.Second)
}

// A broker that asks for no client certificate gets none: OnConnect
// reports nil, and Certificate falls back to the source's.
func TestOnConnectWithoutClientCertificate(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{TLS: true})
	certA, serialA := deviceCert(t, b)
	src := &swapSource{cert: certA}
	got := make(chan *x509.Certificate, 1)
	r := startUplink(t, b, t.TempDir(), mqtt.Config{Certificates: src, OnConnect: func(leaf *x509.Certificate) {
		select {
		case got <- leaf:
		default:
		}
	}})
	select {
	case leaf := <-got:
		if leaf != nil {
			t.Errorf("OnConnect(%s); want nil: the broker asked for no certificate", leaf.SerialNumber.Text(16))
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no connection")
	}
	checkCertificate(t, r.up, serialA)
}
