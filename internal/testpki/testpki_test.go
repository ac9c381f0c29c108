package testpki_test

import (
	"crypto/tls"
	"testing"

	"github.com/iot-hub/agent/internal/testpki"
)

// TestHandshake: a client certificate of the CA is accepted by a server
// requiring one; one of another CA is refused.
func TestHandshake(t *testing.T) {
	ca, other := testpki.NewCA(t, "test CA"), testpki.NewCA(t, "other CA")
	server, _, _ := ca.Server(t)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", ca.ServerConfig(server))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.(*tls.Conn).Handshake()
				_, _ = c.Write([]byte("ok"))
			}()
		}
	}()
	dial := func(client tls.Certificate) error {
		c, err := tls.Dial("tcp", ln.Addr().String(), ca.ClientConfig(client))
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Read(make([]byte, 2)) // TLS 1.3 reports a refused certificate here
		return err
	}
	good, _, _ := ca.Client(t, "gw-0042")
	if err := dial(good); err != nil {
		t.Errorf("a client certificate of the CA: %v", err)
	}
	bad, _, _ := other.Client(t, "gw-0042")
	if err := dial(bad); err == nil {
		t.Error("a client certificate of another CA was accepted")
	}
}
