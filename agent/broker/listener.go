package broker

import (
	"crypto/tls"
	"log/slog"
	"net"
	"sync"

	"github.com/mochi-mqtt/server/v2/listeners"
)

// NewListener returns a listener for mochi-mqtt on addr ("127.0.0.1:1883"),
// serving TLS when tlsConfig is not nil.
func NewListener(id, addr string, tlsConfig *tls.Config) *Listener {
	return &Listener{id: id, addr: addr, tlsConfig: tlsConfig, served: make(chan struct{})}
}

// Listener is mochi-mqtt's TCP listener (listeners.TCP) plus what
// it takes to close the server without a data race: mochi v2.7.9 calls
// ClientsWg.Add for a newly accepted connection in that connection's
// goroutine, and Server.Close calls ClientsWg.Wait, so a client connecting
// while the server closes is reported by the race detector (and a misuse of
// sync.WaitGroup). quiesce stops accepting and waits until every accepted
// connection has been read from (which mochi does right after its
// ClientsWg.Add) or closed, so that Close's Wait comes after every Add.
// Make one with NewListener; Broker uses it, and so do the tests' embedded
// brokers (internal/mqtttest).
type Listener struct {
	id, addr  string
	tlsConfig *tls.Config

	log     *slog.Logger
	ln      net.Listener
	served  chan struct{}  // closed when Serve has returned
	pending sync.WaitGroup // accepted connections not yet read from or closed
	closeLn sync.Once
}

var _ listeners.Listener = (*Listener)(nil)

// Init binds the address; sessions that end with an error are logged to
// log, as mochi's own listener does (a record with an empty message).
func (l *Listener) Init(log *slog.Logger) error {
	l.log = log
	var err error
	l.ln, err = net.Listen("tcp", l.addr)
	return err
}

// Serve accepts connections until the listener is closed, handing each to
// establish in a goroutine of its own.
func (l *Listener) Serve(establish listeners.EstablishFn) {
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
		go func() {
			if err := establish(l.id, c); err != nil && l.log != nil {
				l.log.Warn("", "error", err)
			}
		}()
	}
}

// Quiesce stops accepting connections and waits for those accepted to be
// taken up by mochi. Call it before Server.Close, which calls Close.
func (l *Listener) Quiesce() {
	l.closeLn.Do(func() { _ = l.ln.Close() })
	<-l.served
	l.pending.Wait()
}

// Close stops accepting connections and closes the listener's clients.
func (l *Listener) Close(closeClients listeners.CloseFn) {
	l.closeLn.Do(func() { _ = l.ln.Close() })
	closeClients(l.id)
}

// ID returns the listener's id.
func (l *Listener) ID() string { return l.id }

// Address returns the address the listener is bound to (with the port
// the system chose, for port 0), or the configured one before Init.
func (l *Listener) Address() string {
	if l.ln != nil {
		return l.ln.Addr().String()
	}
	return l.addr
}

// Protocol returns "tcp".
func (l *Listener) Protocol() string { return "tcp" }

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
