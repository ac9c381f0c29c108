package mqtttest

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"sync"
	"syscall"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// startEmbedded runs a new mochi-mqtt server on b.addr, logging to
// b.LogFile. b.mu is held (or b is not shared yet).
func (b *Broker) startEmbedded() error {
	if b.logOut == nil {
		f, err := os.OpenFile(b.LogFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return err
		}
		b.logOut = f
	}
	caps := mqtt.NewDefaultServerCapabilities()
	// Room for a test that queues tens of thousands of QoS 1 messages;
	// mochi drops what does not fit (see the package documentation).
	caps.ReceiveMaximum = math.MaxUint16
	caps.MaximumInflight = math.MaxUint16
	caps.MaximumClientWritesPending = 64 * 1024
	srv := mqtt.New(&mqtt.Options{
		Capabilities: caps,
		Logger:       slog.New(slog.NewTextHandler(b.logOut, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
		return err
	}
	ln := &quiescingListener{id: "tcp", addr: b.addr, served: make(chan struct{})}
	if b.opts.TLS {
		ln.tlsConfig = b.certs.serverTLSConfig(b.opts.RequireClientCert)
	}
	// AddListener binds the port (Init).
	if err := srv.AddListener(ln); err != nil {
		err = fmt.Errorf("embedded broker: listening on %s: %w", b.addr, err)
		if isAddrInUse(err) {
			err = fmt.Errorf("%w: %w", errAddrInUse, err)
		}
		return err
	}
	if err := srv.Serve(); err != nil {
		_ = srv.Close() // Serve failed before serving the listener

		return fmt.Errorf("embedded broker: %w", err)
	}
	b.mochi, b.mochiLn = srv, ln
	return nil
}

// stopEmbedded closes the embedded broker; b.mu is held.
func (b *Broker) stopEmbedded() {
	b.mochiLn.quiesce()
	_ = b.mochi.Close()
	b.mochi, b.mochiLn = nil, nil
}

// quiescingListener is mochi-mqtt's TCP listener (listeners.TCP) plus what
// it takes to close the server without a data race: mochi v2.7.9 calls
// ClientsWg.Add for a newly accepted connection in that connection's
// goroutine, and Server.Close calls ClientsWg.Wait, so a client connecting
// while the server closes is reported by the race detector (and a misuse of
// sync.WaitGroup). quiesce stops accepting and waits until every accepted
// connection has been read from (which mochi does right after its
// ClientsWg.Add) or closed, so that Close's Wait comes after every Add.
type quiescingListener struct {
	id, addr  string
	tlsConfig *tls.Config

	ln      net.Listener
	served  chan struct{}  // closed when Serve has returned
	pending sync.WaitGroup // accepted connections not yet read from or closed
	closeLn sync.Once
}

var _ listeners.Listener = (*quiescingListener)(nil)

// Init binds the address.
func (l *quiescingListener) Init(*slog.Logger) error {
	var err error
	l.ln, err = net.Listen("tcp", l.addr)
	return err
}

// Serve accepts connections until the listener is closed, handing each to
// establish in a goroutine of its own.
func (l *quiescingListener) Serve(establish listeners.EstablishFn) {
	defer close(l.served)
	for {
		conn, err := l.ln.Accept()
		if err != nil {
			return
		}
		l.pending.Add(1)
		var c net.Conn = &firstUseConn{Conn: conn, used: l.pending.Done}
		if l.tlsConfig != nil {
			c = tls.Server(c, l.tlsConfig)
		}
		go func() { _ = establish(l.id, c) }()
	}
}

// quiesce stops accepting connections and waits for those accepted to be
// taken up by mochi. It is called before Server.Close, which calls Close.
func (l *quiescingListener) quiesce() {
	l.closeLn.Do(func() { _ = l.ln.Close() })
	<-l.served
	l.pending.Wait()
}

// Close stops accepting connections and closes the listener's clients.
func (l *quiescingListener) Close(closeClients listeners.CloseFn) {
	l.closeLn.Do(func() { _ = l.ln.Close() })
	closeClients(l.id)
}

// ID returns the listener's id.
func (l *quiescingListener) ID() string { return l.id }

// Address returns the listener's address.
func (l *quiescingListener) Address() string { return l.addr }

// Protocol returns "tcp".
func (l *quiescingListener) Protocol() string { return "tcp" }

// firstUseConn calls used once, on its first Read or Close.
type firstUseConn struct {
	net.Conn
	once sync.Once
	used func()
}

func (c *firstUseConn) Read(p []byte) (int, error) {
	c.once.Do(c.used)
	return c.Conn.Read(p)
}

func (c *firstUseConn) Close() error {
	c.once.Do(c.used)
	return c.Conn.Close()
}

func isAddrInUse(err error) bool {
	return errors.Is(err, syscall.EADDRINUSE)
}
