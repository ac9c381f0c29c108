package broker_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/iot-hub/agent/agent/broker"
	"github.com/iot-hub/agent/internal/confkeys"
	"github.com/iot-hub/agent/internal/testpki"
)

// pki is a CA, the broker's certificate from it and another CA, with
// the files of the broker's TLS keys.
type pki struct {
	ca, other *testpki.CA
	files     broker.TLS // certFile, keyFile and clientCAFile
	dir       string
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	p := &pki{ca: testpki.NewCA(t, "devices CA"), other: testpki.NewCA(t, "another CA"), dir: t.TempDir()}
	_, certPEM, keyPEM := p.ca.Server(t)
	p.files = broker.TLS{CertFile: p.write(t, "broker.pem", certPEM), KeyFile: p.write(t, "broker.key", keyPEM), ClientCAFile: p.write(t, "ca.pem", p.ca.PEM)}
	return p
}

// write writes data to the file name in p's directory, and returns its
// path.
func (p *pki) write(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// client is the TLS configuration of a client that trusts p's CA and
// presents a certificate of ca with CN cn (none when ca is nil), even
// when the broker names other CAs (crypto/tls's client would send none).
func (p *pki) client(t *testing.T, ca *testpki.CA, cn string) *tls.Config {
	t.Helper()
	c := &tls.Config{RootCAs: p.ca.Pool, MinVersion: tls.VersionTLS12}
	if ca != nil {
		pair, _, _ := ca.Client(t, cn)
		c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &pair, nil }
	}
	return c
}

// loginTLS is login over TLS with config; a failed handshake is
// tls.Dial's error.
func loginTLS(t *testing.T, addr string, config *tls.Config, id, user, password string) (*paho.Client, <-chan *paho.Publish, error) {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, config)
	if err != nil {
		return nil, nil, err
	}
	return loginOn(t, &lockedConn{Conn: conn}, id, user, password)
}

// lockedConn is a sync.Locker, which paho holds while it writes a packet
// in several Writes: over TLS, which has no writev, its pinger's PINGREQ
// was seen to land inside a SUBSCRIBE, which the broker refuses as
// malformed.
type lockedConn struct {
	net.Conn
	sync.Mutex
}

// handshake returns the error of a TLS handshake with addr as config:
// tls.Dial's, or, in TLS 1.3, where the server verifies the client's
// certificate after the client's side of the handshake is done, that of
// a read of what the server sends next (its alert). It sends nothing, so
// that the alert is not lost to a write on the closed connection; a
// handshake the server accepts is a read timeout.
func handshake(addr string, config *tls.Config) error {
	conn, err := tls.Dial("tcp", addr, config)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return err
	}
	_, err = conn.Read(make([]byte, 1))
	return err
}

// refusedBy reports whether err is a CONNACK refusal, after a completed
// TLS handshake, with reason code 0x86 (bad username or password: mochi's
// for every client its authentication refuses).
func refusedBy(err error) bool {
	return err != nil && strings.Contains(err.Error(), "failed to connect to server: bad username or password")
}

// TestTLSCertificateUsers: with clientCAFile, a client whose certificate
// of the CA has a certificate user's CN is that user, within its
// filters, whatever username it sends; a password user needs such a
// certificate too and the right password; a certificate of another CA,
// none, or TLS below 1.2 fail the handshake; a certificate of the CA with
// no user's CN, or a certificate user's name with a password, are
// refused by the CONNACK.
func TestTLSCertificateUsers(t *testing.T) {
	p := newPKI(t)
	users := []broker.User{
		{CertificateCN: "meter-7", Publish: []string{"meters/7/#"}},
		{Username: "agent", Password: "s3cret-agent", Subscribe: []string{"meters/#"}},
	}
	b, err := broker.Start(broker.Config{Settings: broker.Settings{Listen: "127.0.0.1:0", TLS: p.files, Users: users}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if users[0].Username != "" {
		t.Errorf("Start filled in the caller's users: %+v", users[0])
	}
	if !strings.HasPrefix(b.URL(), "mqtts://127.0.0.1:") {
		t.Errorf("URL() = %q; want mqtts://", b.URL())
	}

	// The handshake fails, with the broker's alert.
	tls11 := p.client(t, p.ca, "meter-7")
	tls11.MinVersion, tls11.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	for name, tc := range map[string]struct {
		config *tls.Config
		alert  string // the broker's
	}{
		"a certificate of another CA": {p.client(t, p.other, "meter-7"), "unknown certificate authority"},
		"no certificate":              {p.client(t, nil, ""), "certificate required"},
		"TLS 1.1":                     {tls11, "protocol version not supported"},
	} {
		if err := handshake(b.Addr(), tc.config); err == nil || !strings.Contains(err.Error(), "remote error: tls: "+tc.alert) {
			t.Errorf("%s: connect = %v; want a failed TLS handshake: %s", name, err, tc.alert)
		}
	}
	if _, _, err := login(t, b.Addr(), "x", "agent", "s3cret-agent"); err == nil {
		t.Errorf("plain MQTT to the TLS listener: connected; want refused")
	}

	// The handshake passes, the CONNACK refuses.
	for name, tc := range map[string]struct{ cn, user, password string }{
		"a CN that is no user's":             {"meter-9", "", ""},
		"a wrong password":                   {"gw-0042", "agent", "wrong-password"},
		"a certificate user's name":          {"gw-0042", "meter-7", "any-password"},
		"a certificate user with a password": {"meter-7", "agent", "wrong-password"},
	} {
		if _, _, err := loginTLS(t, b.Addr(), p.client(t, p.ca, tc.cn), "x", tc.user, tc.password); !refusedBy(err) {
			t.Errorf("%s: connect = %v; want refused by the CONNACK (0x86)", name, err)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	agent, msgs, err := loginTLS(t, b.Addr(), p.client(t, p.ca, "gw-0042"), "agent", "agent", "s3cret-agent")
	if err != nil {
		t.Fatalf("the password user with a certificate of the CA: %v", err)
	}
	if _, err := agent.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "meters/#", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	// meter-7 claims the agent's name, without its password: it is
	// meter-7 still, and may not subscribe as the agent may.
	meter, _, err := loginTLS(t, b.Addr(), p.client(t, p.ca, "meter-7"), "meter-7", "agent", "")
	if err != nil {
		t.Fatalf("the certificate user: %v", err)
	}
	ack, err := meter.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "meters/#", QoS: 1}}})
	if err == nil && len(ack.Reasons) == 1 && ack.Reasons[0] < 0x80 {
		t.Errorf("the certificate user subscribed to meters/#, the agent's filter; want refused")
	}
	onlyOwnArrives(t, meter, msgs, "meters/8/power", "meters/7/power")
}

// TestTLSPasswordUsers: without clientCAFile the broker serves TLS to
// clients without a certificate, and password users log in as over TCP.
func TestTLSPasswordUsers(t *testing.T) {
	p := newPKI(t)
	keys := p.files
	keys.ClientCAFile = ""
	b, err := broker.Start(broker.Config{Settings: broker.Settings{Listen: "127.0.0.1:0", TLS: keys, Users: []broker.User{
		{Username: "meter-1", Password: "s3cret-meter", Publish: []string{"meters/1/#"}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, _, err := loginTLS(t, b.Addr(), p.client(t, nil, ""), "x", "meter-1", "wrong-password"); !refusedBy(err) {
		t.Errorf("a wrong password over TLS: connect = %v; want refused by the CONNACK", err)
	}
	meter, _, err := loginTLS(t, b.Addr(), p.client(t, nil, ""), "meter-1", "meter-1", "s3cret-meter")
	if err != nil {
		t.Fatalf("the password user over TLS: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := meter.Publish(ctx, &paho.Publish{Topic: "meters/1/power", QoS: 1, Payload: []byte("1")}); err != nil {
		t.Errorf("publish within its filter: %v", err)
	}
}

// TestTLSConfigErrors: Settings.TLSConfig, and Start, refuse TLS files
// that cannot be read or are wrong, naming the key of the file.
func TestTLSConfigErrors(t *testing.T) {
	p := newPKI(t)
	_, _, otherKey := p.ca.Server(t)
	junk := p.write(t, "junk.pem", []byte("not PEM"))
	missing := filepath.Join(p.dir, "missing.pem")
	for _, tc := range []struct {
		name   string
		change func(*broker.TLS)
		want   string
	}{
		{"a missing certFile", func(k *broker.TLS) { k.CertFile = missing }, "tls.certFile: open "},
		{"a certFile of no certificate", func(k *broker.TLS) { k.CertFile = junk }, "tls.certFile: " + junk + " holds no PEM certificate"},
		{"a missing keyFile", func(k *broker.TLS) { k.KeyFile = missing }, "tls.keyFile: open "},
		{"another certificate's key", func(k *broker.TLS) { k.KeyFile = p.write(t, "other.key", otherKey) }, "tls.keyFile: not the key of certFile "},
		{"a key as certFile", func(k *broker.TLS) { k.CertFile = k.KeyFile }, "tls.certFile: "},
		{"a missing clientCAFile", func(k *broker.TLS) { k.ClientCAFile = missing }, "tls.clientCAFile: open "},
		{"a clientCAFile of no certificate", func(k *broker.TLS) { k.ClientCAFile = junk }, "tls.clientCAFile: " + junk + " holds no PEM certificate"},
		{"a keyFile alone", func(k *broker.TLS) { k.CertFile = "" }, "tls.certFile: required"},
		{"a clientCAFile alone", func(k *broker.TLS) { *k = broker.TLS{ClientCAFile: k.ClientCAFile} }, "tls.certFile: required"},
		{"a certFile alone", func(k *broker.TLS) { k.KeyFile = "" }, "tls.keyFile: required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := broker.Settings{Enabled: true, Listen: "127.0.0.1:0", TLS: p.files}
			tc.change(&s.TLS)
			_, err := s.TLSConfig()
			if e, ok := errors.AsType[*confkeys.FieldError](err); !ok || !strings.HasPrefix(e.Error(), tc.want) {
				t.Errorf("TLSConfig() = %v; want a *confkeys.FieldError %q...", err, tc.want)
			}
			if b, err := broker.Start(broker.Config{Settings: s}); err == nil || !strings.HasPrefix(err.Error(), "broker: "+tc.want) {
				if err == nil {
					b.Close()
				}
				t.Errorf("Start = %v; want the error of TLSConfig", err)
			}
			if strings.HasSuffix(tc.want, "required") == (s.Validate() == nil) {
				t.Errorf("Validate() = %v; want an error when a key is missing only, it reads no file", s.Validate())
			}
		})
	}
	if _, err := (broker.Settings{TLS: broker.TLS{CertFile: missing, KeyFile: missing}}).TLSConfig(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("TLSConfig() of a missing file = %v; want it to wrap fs.ErrNotExist", err)
	}
	if c, err := (broker.Settings{}).TLSConfig(); c != nil || err != nil {
		t.Errorf("TLSConfig() without TLS = %v, %v; want nil, nil", c, err)
	}
	c, err := broker.Settings{TLS: p.files}.TLSConfig()
	if err != nil || c == nil || c.MinVersion != tls.VersionTLS12 || c.ClientAuth != tls.RequireAndVerifyClientCert || !c.ClientCAs.Equal(p.ca.Pool) {
		t.Errorf("TLSConfig() = %v; want TLS 1.2 at least, requiring certificates of the CA", err)
	}
}
