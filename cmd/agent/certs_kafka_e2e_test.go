package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/iot-hub/agent/contracts"
)

// testCA signs the certificates of the Kafka rotation test.
type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
	pool *x509.CertPool
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "e2e CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	ca := &testCA{key: key, pool: x509.NewCertPool()}
	ca.cert, _ = x509.ParseCertificate(der)
	ca.pool.AddCert(ca.cert)
	return ca
}

// sign returns a PEM certificate for pub, for a client (CN cn) or the
// server at 127.0.0.1.
func (ca *testCA) sign(t *testing.T, pub crypto.PublicKey, cn string, usage x509.ExtKeyUsage) ([]byte, *big.Int) {
	t.Helper()
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(20 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), serial
}

// pair makes a key and a certificate for it.
func (ca *testCA) pair(t *testing.T, cn string, usage x509.ExtKeyUsage) (tls.Certificate, []byte, []byte, *big.Int) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, serial := ca.sign(t, key.Public(), cn, usage)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return c, certPEM, keyPEM, serial
}

// TestCertificateRotationWithKafka: the Kafka uplink renews its client
// certificate against a cluster that requires one from its CA: the CSR
// goes to certificate.events, the certificate comes on device.commands,
// the brokers accept it on a trial connection, certificate.installed
// follows, and after a restart every connection presents the new one.
func TestCertificateRotationWithKafka(t *testing.T) {
	const id = "e2e-kafka-rotate"
	ca := newTestCA(t)
	server, _, _, _ := ca.pair(t, "127.0.0.1", x509.ExtKeyUsageServerAuth)
	var mu sync.Mutex
	var presented []string // client serials, in the order of handshakes
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1,
		contracts.TopicDeviceCommands, contracts.TopicDeviceResponses, contracts.TopicDeviceTelemetry,
		contracts.TopicDeviceEvents, contracts.TopicCertificateEvents, contracts.TopicDLQ),
		kfake.TLS(&tls.Config{
			Certificates: []tls.Certificate{server}, ClientCAs: ca.pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12,
			VerifyConnection: func(cs tls.ConnectionState) error {
				if len(cs.PeerCertificates) > 0 && cs.PeerCertificates[0].Subject.CommonName == id {
					mu.Lock()
					presented = append(presented, cs.PeerCertificates[0].SerialNumber.Text(16))
					mu.Unlock()
				}
				return nil
			},
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()

	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	_, factoryPEM, factoryKey, factory := ca.pair(t, id, x509.ExtKeyUsageClientAuth)
	certFile, keyFile := filepath.Join(dir, "device.pem"), filepath.Join(dir, "device.key")
	if err := os.WriteFile(certFile, factoryPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, factoryKey, 0o600); err != nil {
		t.Fatal(err)
	}
	config := writeConfig(t, fmt.Sprintf(`
deviceId: %s
stateDir: %s
log: {level: debug, format: json}
uplink:
  kafka:
    brokers: ["%s"]
    tls: true
    caFile: %s
    certFile: %s
    keyFile: %s
    connectTimeout: 5s
`, id, filepath.Join(dir, "state"), brokers[0], caFile, certFile, keyFile))

	// The backend: a client with a certificate of its own, answering CSRs.
	backendCert, _, _, _ := ca.pair(t, "backend", x509.ExtKeyUsageClientAuth)
	backend, err := kgo.NewClient(kgo.SeedBrokers(brokers...),
		kgo.DialTLSConfig(&tls.Config{RootCAs: ca.pool, Certificates: []tls.Certificate{backendCert}, MinVersion: tls.VersionTLS12}),
		kgo.ConsumeTopics(contracts.TopicCertificateEvents), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Close()

	agent := startAgent(t, config)
	agent.waitLog(t, "factory certificate imported", 20*time.Second)
	agent.waitLog(t, "kafka: reading commands", 30*time.Second)
	if code, out, errs := runArgs("cert", "rotate", "--config", config); code != 0 {
		t.Fatalf("agent cert rotate: exit %d\n%s%s", code, out, errs)
	}
	r := waitRecord(t, backend, 30*time.Second, func(r *kgo.Record) bool { return string(r.Key) == id })
	m, err := contracts.Decode(r.Value)
	csr, ok := m.(*contracts.CertificateCSRCreated)
	if err != nil || !ok {
		t.Fatalf("first record on %s: %s (%v)", contracts.TopicCertificateEvents, r.Value, err)
	}
	b, _ := pem.Decode([]byte(csr.Payload.CSRPEM))
	req, err := x509.ParseCertificateRequest(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	newPEM, serial := ca.sign(t, req.PublicKey, id, x509.ExtKeyUsageClientAuth)
	issued, err := contracts.Encode(contracts.NewCertificateIssued(contracts.Origin{Source: contracts.Source{Type: contracts.SourceBackend, ID: "e2e-ca"}}, &csr.Envelope,
		contracts.CertificateIssuedPayload{DeviceID: id, CertificatePEM: string(newPEM), SerialNumber: serial.Text(16), NotAfter: time.Now().Add(20 * 24 * time.Hour)}))
	if err != nil {
		t.Fatal(err)
	}
	res := backend.ProduceSync(context.Background(), &kgo.Record{Topic: contracts.TopicDeviceCommands, Key: []byte(id), Value: issued})
	if err := res.FirstErr(); err != nil {
		t.Fatal(err)
	}
	r = waitRecord(t, backend, 60*time.Second, func(r *kgo.Record) bool {
		m, err := contracts.Decode(r.Value)
		_, ok := m.(*contracts.CertificateInstalled)
		return err == nil && ok
	})
	inst, _ := contracts.Decode(r.Value)
	if p := inst.(*contracts.CertificateInstalled).Payload; p.SerialNumber != serial.Text(16) || p.PreviousSerial != factory.Text(16) {
		t.Fatalf("certificate.installed %+v; want serial %s, previous %s", p, serial.Text(16), factory.Text(16))
	}
	mu.Lock()
	tried := slices.Contains(presented, serial.Text(16))
	mu.Unlock()
	if !tried {
		t.Fatal("certificate.installed before any connection presented the new certificate")
	}
	// After a restart every connection presents the new certificate.
	if code := agent.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	mu.Lock()
	before := len(presented)
	mu.Unlock()
	agent = startAgent(t, config)
	agent.waitLog(t, "kafka: reading commands", 30*time.Second)
	if code := agent.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	mu.Lock()
	after := presented[before:]
	mu.Unlock()
	if len(after) == 0 {
		t.Fatal("no connection after the restart")
	}
	for _, s := range after {
		if s != serial.Text(16) {
			t.Errorf("after the restart a connection presented serial %s; want only the new %s", s, serial.Text(16))
		}
	}
}
