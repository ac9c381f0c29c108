package mqtttest

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"

	"github.com/iot-hub/agent/agent/broker"
	"github.com/iot-hub/agent/internal/freeport"
)

// EnvMosquitto names the environment variable that overrides where the
// mosquitto binary is: when it is non-empty, its value is the only path
// tried, and a path that does not exist counts as "mosquitto is not
// installed".
const EnvMosquitto = "MQTTTEST_MOSQUITTO"

// EnvCI names the environment variable that marks a CI run: when it is
// non-empty, a missing mosquitto fails the test instead of falling back to
// the embedded broker, and so does [Broker.RequirePersistence] on the
// embedded broker.
const EnvCI = "CI"

// startTimeout bounds how long Start and Restart wait for the broker to
// accept connections, and Stop for it to exit after SIGTERM.
const startTimeout = 10 * time.Second

// logTailLines is how many lines of the broker's log a failed test shows.
const logTailLines = 60

// Options configures the broker that [Start] runs. The zero value is a plain
// TCP broker with anonymous access and no persistence.
type Options struct {
	// TLS makes the listener speak TLS (1.2 minimum) with a certificate for
	// 127.0.0.1 and localhost signed by a CA generated for the test;
	// [Broker.URL] then has the scheme mqtts.
	TLS bool

	// RequireClientCert, with TLS, makes the broker refuse clients that do
	// not present a certificate signed by that CA. The certificate's CN is
	// the client's identity (mosquitto's username). It implies TLS.
	RequireClientCert bool

	// ClientCN is the Common Name of the client certificate generated with
	// TLS ([Broker.ClientCertFile]); "gw-test" when empty.
	ClientCN string

	// Persistence makes mosquitto keep retained messages, sessions and
	// queued messages in a file that survives [Broker.Restart] (and
	// [Broker.Kill] up to the last save; see [Broker.Checkpoint]). The
	// embedded broker ignores it: see [Broker.RequirePersistence].
	Persistence bool

	// ACL, when not empty, is a mosquitto acl_file, for tests of what the
	// broker refuses ("topic readwrite #" then "topic deny some/topic"
	// for anonymous clients). The embedded broker has no ACLs: Start fails
	// the test when ACL is set and mosquitto is missing.
	ACL string

	// StockReceiveMaximum keeps mosquitto's default max_inflight_messages,
	// 20, which it sends clients as their Receive Maximum: the window a
	// stock broker gives the agent. Without it the tests' mosquitto sets
	// 0 (no limit). The embedded broker ignores it.
	StockReceiveMaximum bool
}

// Broker is a running MQTT broker started by [Start]: a mosquitto child
// process or, where mosquitto is missing outside CI, the embedded mochi-mqtt
// broker. Its methods are safe for concurrent use.
type Broker struct {
	// Dir is the broker's temporary directory (t.TempDir()).
	Dir string
	// ConfigFile is the path of the mosquitto.conf written by Start; empty
	// for the embedded broker.
	ConfigFile string
	// LogFile is the path of the broker's log.
	LogFile string
	// PersistenceFile is the path of mosquitto's persistence database when
	// Options.Persistence is set (it exists after the first save); empty
	// otherwise and for the embedded broker.
	PersistenceFile string

	// CAFile is the PEM file of the CA that signed the server and client
	// certificates; empty without TLS.
	CAFile string
	// ClientCertFile is the PEM file of the client certificate (CN
	// Options.ClientCN); empty without TLS.
	ClientCertFile string
	// ClientKeyFile is the PEM file (PKCS #8) of the client certificate's
	// private key; empty without TLS.
	ClientKeyFile string
	// ServerCertFile and ServerKeyFile are the broker's certificate and key;
	// empty without TLS.
	ServerCertFile, ServerKeyFile string
	// CRLFile is the PEM certificate revocation list that [Broker.Revoke]
	// writes (mosquitto's crlfile); empty before the first Revoke.
	CRLFile string

	opts     Options
	bin      string // mosquitto binary; empty when embedded
	addr     string // 127.0.0.1:port
	certs    *testCerts
	embedded bool

	mu      sync.Mutex
	proc    *process     // running mosquitto, nil when stopped
	mochi   *mqtt.Server // running embedded broker, nil when stopped
	mochiLn *broker.Listener
	logOut  *os.File // embedded broker's log file
	subs    map[*Subscriber]struct{}
	stopped bool // set by the final cleanup

	pubMu sync.Mutex
	pub   *Subscriber // client behind Broker.Publish, created on first use
}

// Start runs a broker for the test and returns once it accepts TCP
// connections (10 s at most, else the test fails). It is stopped when the
// test and its subtests end (t.Cleanup); if the test failed, the tail of the
// broker's log is logged then.
//
// Start runs mosquitto when it finds it (see the package documentation);
// otherwise it fails the test when CI is set, and runs the embedded
// mochi-mqtt broker when not.
func Start(t testing.TB, opts Options) *Broker {
	t.Helper()
	if opts.RequireClientCert {
		opts.TLS = true
	}
	if opts.ClientCN == "" {
		opts.ClientCN = "gw-test"
	}
	b := &Broker{
		Dir:  t.TempDir(),
		opts: opts,
		subs: map[*Subscriber]struct{}{},
	}
	b.LogFile = filepath.Join(b.Dir, "broker.log")
	if opts.TLS {
		certs := writeTestCerts(t, b.Dir, opts.ClientCN)
		b.certs = certs
		b.CAFile, b.ServerCertFile, b.ServerKeyFile = certs.caFile, certs.serverCertFile, certs.serverKeyFile
		b.ClientCertFile, b.ClientKeyFile = certs.clientCertFile, certs.clientKeyFile
	}

	bin, why := findMosquitto()
	if bin == "" {
		if os.Getenv(EnvCI) != "" {
			t.Fatalf("mqtttest: mosquitto not found (%s) and %s is set: install Debian's mosquitto package "+
				"(apt-get install mosquitto; .ci/run installs it through APT_PACKAGES). "+
				"Outside CI the tests fall back to an embedded broker.", why, EnvCI)
		}
		if opts.ACL != "" {
			t.Fatalf("mqtttest: mosquitto not found (%s), and the embedded broker has no ACLs for this test", why)
		}
		t.Logf("mosquitto not found: using the embedded mochi-mqtt broker (%s)", why)
		b.embedded = true
	}
	b.bin = bin

	// The final cleanup is registered before the broker starts, so that a
	// broker that started but then failed the test is still stopped.
	t.Cleanup(func() { b.cleanup(t) })

	var err error
	for attempt := 1; ; attempt++ {
		var port int
		port, err = freeport.Port()
		if err != nil {
			t.Fatalf("mqtttest: finding a free port: %v", err)
		}
		b.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if b.embedded {
			err = b.startEmbedded()
		} else {
			if err = b.writeConfig(port); err != nil {
				t.Fatalf("mqtttest: %v", err)
			}
			err = b.startMosquitto()
		}
		if err == nil || !errors.Is(err, errAddrInUse) || attempt == 5 {
			break
		}
		t.Logf("mqtttest: port %d was taken before the broker could bind it; trying another", port)
	}
	if err != nil {
		t.Fatalf("mqtttest: starting the broker: %v\n%s", err, b.logTail())
	}
	return b
}

// Addr returns the broker's listener address, "127.0.0.1:PORT".
func (b *Broker) Addr() string { return b.addr }

// URL returns the broker's URL: "mqtt://127.0.0.1:PORT", or
// "mqtts://127.0.0.1:PORT" with TLS.
func (b *Broker) URL() string {
	if b.opts.TLS {
		return "mqtts://" + b.addr
	}
	return "mqtt://" + b.addr
}

// Embedded reports whether the broker is the embedded mochi-mqtt one rather
// than mosquitto.
func (b *Broker) Embedded() bool { return b.embedded }

// TLSConfig returns a new client TLS configuration for the broker: it trusts
// the test CA, presents the client certificate (clear Certificates to connect
// without one) and has ServerName "127.0.0.1". It returns nil without TLS.
func (b *Broker) TLSConfig() *tls.Config {
	if b.certs == nil {
		return nil
	}
	return b.certs.clientTLSConfig()
}

// Stop stops the broker gracefully: mosquitto gets SIGTERM (it saves its
// persistence file on the way out) and Stop waits for it to exit, sending
// SIGKILL after 10 s. The embedded broker is closed. Stop does nothing when
// the broker is not running; [Broker.Restart] starts it again.
func (b *Broker) Stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stopLocked(false)
}

// Kill stops mosquitto with SIGKILL, as a crash would: it saves nothing, and
// clients lose their connections without a DISCONNECT. It waits for the
// process to exit. On the embedded broker Kill is the same as Stop.
func (b *Broker) Kill() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stopLocked(true)
}

// Restart starts the broker again, after stopping it gracefully if it is
// running: same port, same configuration and, with Options.Persistence, the
// same persistence file. It returns when the broker accepts connections and
// every [Subscriber] of this broker has reconnected and has its subscription
// in place again (10 s each at most, else the test fails), so that messages
// published after Restart returns reach them; with Options.Persistence, the
// sessions are then saved (see [Broker.Subscribe]).
//
// The embedded broker starts empty: its retained messages and sessions are
// gone.
func (b *Broker) Restart(t testing.TB) {
	t.Helper()
	b.mu.Lock()
	if b.stopped {
		b.mu.Unlock()
		t.Fatalf("mqtttest: Restart after the test that started the broker has ended")
	}
	b.stopLocked(false)
	gens := make(map[*Subscriber]uint64, len(b.subs))
	for s := range b.subs {
		gens[s] = s.generation()
	}
	deadline := time.Now().Add(startTimeout)
	var err error
	for {
		if b.embedded {
			err = b.startEmbedded()
		} else {
			err = b.startMosquitto()
		}
		// The port may be in use for a moment, e.g. by a client's outgoing
		// connection that took it as its ephemeral port.
		if err == nil || !errors.Is(err, errAddrInUse) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.mu.Unlock()
	if err != nil {
		t.Fatalf("mqtttest: restarting the broker on %s: %v\n%s", b.addr, err, b.logTail())
	}
	for s, gen := range gens {
		if err := s.awaitReady(gen, startTimeout); err != nil {
			t.Fatalf("mqtttest: after Restart: %v", err)
		}
	}
	// Subscribers that had to subscribe again have new sessions to save.
	if err := b.saveSessions(); err != nil {
		t.Fatalf("mqtttest: after Restart: %v", err)
	}
}

// saveSessions checkpoints a running persistent mosquitto, so that the
// subscriptions just made survive a Kill; it does nothing otherwise.
func (b *Broker) saveSessions() error {
	if b.embedded || !b.opts.Persistence {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.proc == nil {
		return nil
	}
	if err := b.proc.checkpoint(b.PersistenceFile); err != nil {
		return fmt.Errorf("saving the sessions: %w\n%s", err, b.logTail())
	}
	return nil
}

// RequirePersistence reports whether the broker keeps retained messages and
// sessions across [Broker.Restart], for tests that depend on it. It returns
// true for mosquitto started with Options.Persistence. For the embedded
// broker, which has no persistence, it fails the test when CI is set (CI runs
// mosquitto) and otherwise logs that persistence is not available and
// returns false, so that the test can check less instead of skipping. A
// broker started without Options.Persistence fails the test: that is a bug in
// the test.
func (b *Broker) RequirePersistence(t testing.TB) bool {
	t.Helper()
	if !b.opts.Persistence {
		t.Fatalf("mqtttest: RequirePersistence on a broker started without Options.Persistence")
	}
	if !b.embedded {
		return true
	}
	if os.Getenv(EnvCI) != "" {
		t.Fatalf("mqtttest: this test needs broker persistence, which the embedded broker does not have, "+
			"and %s is set: install Debian's mosquitto package (.ci/run does)", EnvCI)
	}
	t.Logf("mqtttest: the embedded broker has no persistence: retained messages and sessions do not survive a restart")
	return false
}

// Checkpoint makes mosquitto write its persistence file now (SIGUSR1) and
// waits until it is written, so that a following [Broker.Kill] keeps
// everything the broker had acknowledged. It fails the test if the broker
// was started without Options.Persistence or is not running, and does
// nothing on the embedded broker (see [Broker.RequirePersistence]).
func (b *Broker) Checkpoint(t testing.TB) {
	t.Helper()
	if !b.opts.Persistence {
		t.Fatalf("mqtttest: Checkpoint on a broker started without Options.Persistence")
	}
	if b.embedded {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.proc == nil {
		t.Fatalf("mqtttest: Checkpoint: the broker is not running")
	}
	if err := b.proc.checkpoint(b.PersistenceFile); err != nil {
		t.Fatalf("mqtttest: Checkpoint: %v\n%s", err, b.logTail())
	}
}

// stopLocked stops whichever broker runs; b.mu is held.
func (b *Broker) stopLocked(kill bool) {
	if b.proc != nil {
		if kill {
			b.proc.kill()
		} else {
			b.proc.stop(startTimeout)
		}
		b.proc = nil
	}
	if b.mochi != nil {
		b.stopEmbedded()
	}
}

// cleanup is the final t.Cleanup of Start.
func (b *Broker) cleanup(t testing.TB) {
	b.mu.Lock()
	b.stopped = true
	b.mu.Unlock()
	b.pubMu.Lock()
	if b.pub != nil {
		b.pub.Close()
		b.pub = nil
	}
	b.pubMu.Unlock()
	b.mu.Lock()
	b.stopLocked(false)
	if b.logOut != nil {
		_ = b.logOut.Close()
		b.logOut = nil
	}
	b.mu.Unlock()
	if t.Failed() {
		t.Logf("mqtttest: %s", b.logTail())
	}
}

// logTail returns the last lines of the broker's log, for failure messages.
func (b *Broker) logTail() string {
	data, err := os.ReadFile(b.LogFile)
	if err != nil {
		return fmt.Sprintf("(broker log %s: %v)", b.LogFile, err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > logTailLines {
		lines = lines[len(lines)-logTailLines:]
	}
	return fmt.Sprintf("last %d lines of the broker log %s:\n%s", len(lines), b.LogFile, strings.Join(lines, "\n"))
}

// findMosquitto returns the mosquitto binary to run, or "" and why none was
// found.
func findMosquitto() (bin, why string) {
	if p := os.Getenv(EnvMosquitto); p != "" {
		if isExecutable(p) {
			return p, ""
		}
		return "", fmt.Sprintf("%s=%s is not an executable file", EnvMosquitto, p)
	}
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p, ""
	}
	for _, p := range []string{"/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"} {
		if isExecutable(p) {
			return p, ""
		}
	}
	return "", "not on PATH, nor in /usr/sbin or /usr/local/sbin"
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// errAddrInUse marks a start that failed because the port was taken.
var errAddrInUse = errors.New("address already in use")

// waitAccepting polls until a TCP connection to addr succeeds, exited is
// closed (the broker died) or the deadline passes.
func waitAccepting(addr string, exited <-chan struct{}, deadline time.Time) error {
	for {
		conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			return conn.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no connection to %s within %v: %v", addr, startTimeout, err)
		}
		select {
		case <-exited:
			return errors.New("the broker exited")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// containsAddrInUse reports whether a start-up log says the port was taken.
func containsAddrInUse(log []byte) bool {
	return bytes.Contains(bytes.ToLower(log), []byte("address already in use"))
}
