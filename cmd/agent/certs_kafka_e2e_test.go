package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
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
	"github.com/iot-hub/agent/internal/testpki"
)

// TestCertificateRotationWithKafka: the Kafka uplink renews its client
// certificate against a cluster that requires one from its CA, with a
// backend that follows the catalogue: the CSR goes to
// certificate.events, the certificate comes back on certificate.events
// too, the brokers accept it on a trial connection, certificate.installed
// follows, and after a restart every connection presents the new one.
func TestCertificateRotationWithKafka(t *testing.T) {
	const id = "e2e-kafka-rotate"
	ca := testpki.NewCA(t, "e2e CA")
	server, _, _ := ca.Server(t)
	var mu sync.Mutex
	var presented []string // client serials, in the order of handshakes
	serverTLS := ca.ServerConfig(server)
	serverTLS.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) > 0 && cs.PeerCertificates[0].Subject.CommonName == id {
			mu.Lock()
			presented = append(presented, cs.PeerCertificates[0].SerialNumber.Text(16))
			mu.Unlock()
		}
		return nil
	}
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1,
		contracts.TopicDeviceCommands, contracts.TopicDeviceResponses, contracts.TopicDeviceTelemetry,
		contracts.TopicDeviceEvents, contracts.TopicCertificateEvents, contracts.TopicDLQ),
		kfake.TLS(serverTLS))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()

	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	factoryPair, factoryPEM, factoryKey := ca.Client(t, id)
	factory := factoryPair.Leaf.SerialNumber
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
	backendCert, _, _ := ca.Client(t, "backend")
	backend, err := kgo.NewClient(kgo.SeedBrokers(brokers...),
		kgo.DialTLSConfig(ca.ClientConfig(backendCert)),
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
	newPEM, serial := ca.Sign(t, req.PublicKey, id)
	issued := contracts.NewCertificateIssued(contracts.Origin{Source: contracts.Source{Type: contracts.SourceBackend, ID: "e2e-ca"}}, &csr.Envelope,
		contracts.CertificateIssuedPayload{DeviceID: id, CertificatePEM: string(newPEM), SerialNumber: serial.Text(16), NotAfter: time.Now().Add(20 * 24 * time.Hour)})
	body, err := contracts.Encode(issued)
	if err != nil {
		t.Fatal(err)
	}
	res := backend.ProduceSync(context.Background(), &kgo.Record{Topic: issued.Header().EventType.Topic(), Key: []byte(id), Value: body})
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

// TestKafkaCertificateIssuedOnTheCommandsTopic: a certificate.issued sent
// on device.commands, where the catalogue does not put it, is refused
// with a dead letter that names the topic it travels on.
func TestKafkaCertificateIssuedOnTheCommandsTopic(t *testing.T) {
	const id = "e2e-kafka-misrouted"
	brokers := newKafkaCluster(t)
	agent := startAgent(t, kafkaConfig(t, id, brokers))
	agent.waitLog(t, "kafka: reading commands", 30*time.Second)

	csr := contracts.NewCertificateCSRCreated(contracts.DeviceOrigin(id), contracts.CertificateCSRCreatedPayload{DeviceID: id, CSRPEM: "csr", Reason: "test"})
	issued := contracts.NewCertificateIssued(contracts.Origin{Source: contracts.Source{Type: contracts.SourceBackend, ID: "e2e-ca"}}, &csr.Envelope,
		contracts.CertificateIssuedPayload{DeviceID: id, CertificatePEM: "pem", SerialNumber: "1f", NotAfter: time.Now().Add(24 * time.Hour)})
	body, err := contracts.Encode(issued)
	if err != nil {
		t.Fatal(err)
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	if err := prod.ProduceSync(context.Background(), &kgo.Record{Topic: contracts.TopicDeviceCommands, Key: []byte(id), Value: body}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	dlq := consume(t, brokers, contracts.TopicDLQ)
	defer dlq.Close()
	r := waitRecord(t, dlq, 30*time.Second, func(r *kgo.Record) bool { return string(r.Key) == id })
	m, err := contracts.Decode(r.Value)
	letter, ok := m.(*contracts.SystemDLQ)
	if err != nil || !ok {
		t.Fatalf("record on %s: %s (%v); want a system.dlq", contracts.TopicDLQ, r.Value, err)
	}
	const want = "rpc: certificate.issued travels on certificate.events; it came on device.commands"
	if p := letter.Payload; p.Reason != contracts.DLQInvalid || p.Error != want || p.OriginalTopic != contracts.TopicDeviceCommands || letter.CorrelationID != csr.CorrelationID {
		t.Errorf("dead letter %+v, correlationId %s; want reason %s, error %q, originalTopic %s, correlationId %s",
			p, letter.CorrelationID, contracts.DLQInvalid, want, contracts.TopicDeviceCommands, csr.CorrelationID)
	}
}
