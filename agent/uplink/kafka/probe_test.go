package kafka_test

import (
	"context"
	"crypto/tls"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/iot-hub/agent/agent/uplink/kafka"
)

// TestProbe: a cluster that wants a client certificate from its CA takes
// the probe of one it signed and refuses one from another CA; the
// uplink's configured certificate plays no part.
func TestProbe(t *testing.T) {
	pki, other := newPKI(t), newPKI(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.TLS(pki.serverConfig()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	tc := pki.clientConfig()
	tc.Certificates = nil // only what Probe presents
	up, err := kafka.New(kafka.Config{Brokers: c.ListenAddrs(), DeviceID: device, TLS: tc, ConnectTimeout: 2 * time.Second}, openStore(t, t.TempDir()), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := up.Probe(ctx, &pki.client); err != nil {
		t.Errorf("Probe with a certificate of the cluster's CA: %v", err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	if err := up.Probe(ctx2, &other.client); err == nil {
		t.Error("Probe with a certificate of another CA succeeded")
	}
	if err := up.Probe(ctx, new(tls.Certificate)); err == nil {
		t.Error("Probe without a certificate succeeded")
	}
}
