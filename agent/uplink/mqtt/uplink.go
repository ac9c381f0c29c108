package mqtt

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/agent/uplink"
	"github.com/iot-hub/agent/agent/uplink/status"
	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/internal/backoff"
	"github.com/iot-hub/agent/internal/lograte"
	"github.com/iot-hub/agent/internal/tlsfiles"
)

// Outbox is what the uplink needs of the outbox, by role: records to
// publish (TryNext) and their outcome (uplink.Settler), a way to queue its
// own status messages (Append), and the cursor (status.Store) that keeps
// the connection number.
type Outbox interface {
	TryNext(max int, wake chan struct{}) ([]outbox.Entry, error)
	uplink.Settler
	Append(ctx context.Context, recs ...outbox.Record) error
	status.Store
}

// Command is one message received on the device's commands topic: the
// command as the dispatcher takes it (uplink.Command, its Reply and
// DeadLetters filled in), and its MQTT v5 request/response properties.
type Command struct {
	uplink.Command
	// ResponseTopic and CorrelationData are the MQTT v5 request/response
	// properties: an answer goes to ResponseTopic with CorrelationData.
	ResponseTopic   string
	CorrelationData []byte
}

// ReplyTo is where an answer to the command goes, by MQTT v5
// request/response: its Response Topic, else fallback (the device's
// responses topic); and the outbox headers that give the answer the
// command's Correlation Data and a JSON content type.
func (c Command) ReplyTo(fallback string) (topic string, headers []outbox.Header) {
	topic = fallback
	if c.ResponseTopic != "" {
		topic = c.ResponseTopic
	}
	headers = []outbox.Header{{Key: HeaderContentType, Value: []byte("application/json")}}
	if c.CorrelationData != nil {
		headers = append(headers, outbox.Header{Key: HeaderCorrelationData, Value: c.CorrelationData})
	}
	return topic, headers
}

// Handler takes a received command. It is called on the uplink's receive
// path and must return quickly: it should hand the work to its own
// goroutines. It must see to it that Command.Ack is called, also for
// input it refuses: MQTT acknowledges in the order messages came, so one
// command never acknowledged holds back the acknowledgements of all later
// ones.
type Handler func(ctx context.Context, c Command)

// Outbox header keys the uplink turns into MQTT v5 properties instead of
// user properties: an RPC answer carries the command's correlation data,
// and a content type.
const (
	HeaderCorrelationData = "mqtt.correlation-data"
	HeaderContentType     = "mqtt.content-type"
)

// Uplink publishes the outbox to an MQTT v5 broker and receives commands.
// Run it once; its methods are safe for concurrent use.
type Uplink struct {
	cfg    Config
	box    Outbox
	handle Handler
	log    *slog.Logger
	lines  *lograte.Logger // the lines the broker sets the pace of: per connection, per refusal
	topics contracts.MQTTTopics
	legacy LegacyTopics // this device's, used unless Protocol is ProtocolV1
	broker *url.URL
	// maxPacket is the Maximum Packet Size asked of the broker.
	maxPacket uint32

	kick chan struct{} // Reconnect's: attempt now; buffer 1

	mu        sync.Mutex
	state     uplink.State
	connects  int
	tls       *tls.Config       // reloaded by ReloadTLS
	conn      *batchConn        // the current connection, or the last
	connLeaf  *x509.Certificate // the client certificate conn presented
	presented *x509.Certificate // what the last accepted connection presented
	hurry     bool              // Reconnect was called since the last accepted connection
	redials   uint64            // Reconnect calls so far
	cuts      map[uint16]int    // sizes of the payloads cut short, by packet identifier
	// connection is the number of the connection being made, or of the
	// current one; dialed says an attempt with it reached the broker.
	connection uint64
	dialed     bool
	stopped    bool // the stopped status is published: disconnect without the Will
	// onUp's work (subscribe, queue the online status, the publisher)
	// runs on its own goroutines, under runCtx; Run ends it and waits for
	// them before it returns, so none appends to the outbox after. done:
	// Run is returning, and onUp starts no more.
	runCtx context.Context
	tasks  sync.WaitGroup
	done   bool
	// queue and sess are Run's, for the publisher (publisher.go);
	// stopPublisher stops the current connection's and waits for it.
	queue         *outboxQueue
	sess          *ackSession
	stopPublisher func()
}

// New checks cfg and returns an uplink that publishes what box hands out
// and passes commands to handle.
func New(cfg Config, box Outbox, handle Handler) (*Uplink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("mqtt: %w", err)
	}
	cfg = cfg.withDefaults()
	topics, err := contracts.DeviceTopics(cfg.DeviceID)
	if err != nil {
		return nil, fmt.Errorf("mqtt: %w", err)
	}
	broker, _ := url.Parse(cfg.Broker) // checked by Validate
	legacyTopics := cfg.LegacyTopics.forDevice(cfg.DeviceID)
	commands := topics.Commands
	if cfg.Protocol != ProtocolV1 && len(legacyTopics.Commands) > len(commands) {
		commands = legacyTopics.Commands
	}
	u := &Uplink{
		cfg: cfg, box: box, handle: handle, log: cfg.Logger, lines: lograte.New(cfg.Logger, lograte.Config{}), topics: topics,
		legacy: legacyTopics, broker: broker,
		state: uplink.State{Broker: cfg.Broker}, kick: make(chan struct{}, 1),
		maxPacket: maxPacketSize(cfg.MaxCommandBytes, commands), cuts: make(map[uint16]int),
	}
	if u.isTLS() {
		if u.tls, err = loadTLS(cfg); err != nil {
			return nil, fmt.Errorf("mqtt: %w", err)
		}
	}
	return u, nil
}

// State returns the connection state.
func (u *Uplink) State() uplink.State {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.state
}

// Certificate returns the client certificate the uplink presents; nil
// when it presents none. With CertFile and KeyFile it is the one loaded
// last. With Config.Certificates it is the one the last accepted
// connection presented or, before any connection presented one, the
// source's current certificate (Certificate then calls the source).
func (u *Uplink) Certificate() *x509.Certificate {
	if src := u.cfg.Certificates; src != nil {
		u.mu.Lock()
		leaf := u.presented
		u.mu.Unlock()
		if leaf != nil {
			return leaf
		}
		cert, err := src.ClientCertificate()
		if err != nil || cert == nil {
			return nil
		}
		leaf, _ = leafOf(cert)
		return leaf
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.tls == nil || len(u.tls.Certificates) == 0 {
		return nil
	}
	return u.tls.Certificates[0].Leaf
}

// ReloadTLS reads the CA bundle, certificate and key again; the next
// connection uses them (SIGHUP, certificate rotation). With
// Config.Certificates it reads only the CA bundle: the client certificate
// comes from the source at every connection.
func (u *Uplink) ReloadTLS() error {
	if !u.isTLS() {
		return nil
	}
	c, err := loadTLS(u.cfg)
	if err != nil {
		return fmt.Errorf("mqtt: reload tls: %w", err)
	}
	u.mu.Lock()
	u.tls = c
	u.mu.Unlock()
	return nil
}

func (u *Uplink) isTLS() bool {
	useTLS, _ := SchemeTLS(u.broker.Scheme)
	return useTLS
}

// UsesTLS reports whether the broker URL asks for TLS: its scheme is
// mqtts, tls or ssl.
func UsesTLS(broker string) bool {
	u, err := url.Parse(broker)
	if err != nil {
		return false
	}
	useTLS, _ := SchemeTLS(u.Scheme)
	return useTLS
}

// Schemes lists the broker URL schemes the uplink takes, for messages.
const Schemes = "mqtt, tcp, mqtts, tls or ssl"

// SchemeTLS reports whether a broker URL's scheme asks for TLS (mqtts,
// tls, ssl) or not (mqtt, tcp); known is false for any other scheme.
func SchemeTLS(scheme string) (useTLS, known bool) {
	switch scheme {
	case "mqtt", "tcp":
		return false, true
	case "mqtts", "tls", "ssl":
		return true, true
	}
	return false, false
}

// Run connects, keeps reconnecting, publishes the outbox and receives
// commands until ctx ends. Then it waits for the publishes in flight for
// up to the ConnectTimeout, publishes the offline "stopped" status and
// disconnects; if that status could not be published, it disconnects so
// that the broker publishes the Last Will at once.
func (u *Uplink) Run(ctx context.Context) error {
	connCtx, cancelConn := context.WithCancel(context.Background())
	defer u.endTasks(cancelConn)
	q := newOutboxQueue(u)
	sess := newAckSession(q.settleAll)
	defer sess.Close()
	u.mu.Lock()
	u.runCtx, u.queue, u.sess = connCtx, q, sess
	u.mu.Unlock()
	server := *u.broker
	if server.Scheme == "tcp" {
		server.Scheme = "mqtt"
	}
	if server.Scheme == "mqtts" || server.Scheme == "ssl" {
		server.Scheme = "tls"
	}
	acfg := autopaho.ClientConfig{
		ServerUrls:                    []*url.URL{&server},
		KeepAlive:                     uint16(u.cfg.KeepAlive / time.Second),
		CleanStartOnInitialConnection: false,
		SessionExpiryInterval:         uint32(u.cfg.SessionExpiry / time.Second),
		ReconnectBackoff:              u.waitBackoff(ctx),
		ConnectTimeout:                u.cfg.ConnectTimeout,
		ConnectUsername:               u.cfg.Username,
		ConnectPassword:               []byte(u.cfg.Password),
		OnConnectionUp:                u.onUp,
		OnConnectionDown:              u.onDown,
		OnConnectError: func(err error) {
			// After a Reconnect, attempts come a second apart until one
			// is accepted: a broker that refuses them would flood.
			u.lines.Warn("attempt failed", "mqtt: connection attempt failed", "broker", u.cfg.Broker, "err", err)
		},
		// autopaho asks for no problem information unless told; 1 is the
		// MQTT default, and without it mochi-mqtt strips user properties.
		// The Maximum Packet Size keeps commands too large away. Each
		// CONNECT gets its own Last Will (status.go).
		ConnectPacketBuilder: func(c *paho.Connect, _ *url.URL) (*paho.Connect, error) {
			if err := u.willFor(c); err != nil {
				return nil, err
			}
			if c.Properties == nil {
				c.Properties = &paho.ConnectProperties{}
			}
			c.Properties.RequestProblemInfo = true
			c.Properties.MaximumPacketSize = &u.maxPacket
			return c, nil
		},
		// Disconnect normally once the stopped status is published, else
		// with reason 0x04: the broker publishes the Will, so subscribers
		// see the gateway go offline when it stops.
		DisconnectPacketBuilder: u.disconnectPacket,
		ClientConfig: paho.ClientConfig{
			ClientID:          u.cfg.DeviceID,
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){u.onMessage(ctx, sess)},
		},
	}
	acfg.AttemptConnection = u.dial
	acfg.Session, acfg.Queue = sess, idleQueue{}
	cm, err := autopaho.NewConnection(connCtx, acfg)
	if err != nil {
		return fmt.Errorf("mqtt: %w", err)
	}
	<-ctx.Done()
	stopCtx, cancel := context.WithTimeout(context.Background(), u.cfg.ConnectTimeout)
	defer cancel()
	if u.awaitInFlight(q) {
		stopped := u.publishStopped(stopCtx, cm)
		u.mu.Lock()
		u.stopped = stopped
		u.mu.Unlock()
	}
	if err := cm.Disconnect(stopCtx); err != nil && !errors.Is(err, autopaho.ConnectionDownError) {
		u.log.Warn("mqtt: disconnect", "err", err) // autopaho did not stop in time: go on
	}
	return nil
}

// endTasks cancels the connection's context and waits for onUp's
// goroutines.
func (u *Uplink) endTasks(cancel context.CancelFunc) {
	u.mu.Lock()
	u.done = true
	u.mu.Unlock()
	cancel()
	u.tasks.Wait()
}

// awaitInFlight waits, up to ConnectTimeout, until every entry taken from
// the outbox is settled, and reports whether they all were; what is left
// is sent again on the next start.
func (u *Uplink) awaitInFlight(q *outboxQueue) bool {
	select {
	case <-q.stop():
		return true
	case <-time.After(u.cfg.ConnectTimeout):
		u.log.Warn("mqtt: stopped before every publish was acknowledged; they are sent again on the next start")
		return false
	}
}

// disconnectPacket is the DISCONNECT of a stop: normal once the stopped
// status is published, else 0x04, which has the broker publish the Will.
func (u *Uplink) disconnectPacket() *paho.Disconnect {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.stopped {
		return &paho.Disconnect{ReasonCode: 0x00}
	}
	return &paho.Disconnect{ReasonCode: 0x04}
}

// dial connects, with the current TLS configuration when the broker's
// scheme asks for TLS, and batches the connection's writes. It records
// the client certificate the connection presented, for onUp; an attempt
// overtaken by a Reconnect call fails.
func (u *Uplink) dial(ctx context.Context, _ autopaho.ClientConfig, server *url.URL) (net.Conn, error) {
	// autopaho passes its long-lived context here, not the attempt's.
	ctx, cancel := context.WithTimeout(ctx, u.cfg.ConnectTimeout)
	defer cancel()
	select {
	case <-u.kick: // this attempt is the one Reconnect asked for
	default:
	}
	var conn net.Conn
	var err error
	var sent presented
	u.mu.Lock()
	redials := u.redials
	cfg := u.tls.Clone()
	u.mu.Unlock()
	if cfg != nil {
		// A fresh handshake every time (no session cache: a resumed
		// TLS 1.3 session would present no certificate).
		cfg.GetClientCertificate = sent.getClientCertificate(u.cfg.Certificates, cfg.Certificates)
		d := tls.Dialer{Config: cfg}
		conn, err = d.DialContext(ctx, "tcp", server.Host)
	} else {
		var d net.Dialer
		conn, err = d.DialContext(ctx, "tcp", server.Host)
	}
	if err != nil {
		return nil, err
	}
	u.mu.Lock()
	sess := u.sess
	u.mu.Unlock()
	b := newBatchConn(conn, packetLimit{max: int(u.maxPacket), keep: u.cfg.MaxCommandBytes + 1, onCut: u.cut, onPubacks: sess.pubacks})
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.redials != redials {
		b.Close()
		return nil, errSuperseded
	}
	u.conn, u.connLeaf, u.dialed = b, sent.get(), true
	return b, nil
}

// cut records the size of a command's payload that the connection cut
// short, for onMessage.
func (u *Uplink) cut(id uint16, size int) {
	u.mu.Lock()
	u.cuts[id] = size
	u.mu.Unlock()
}

// sizeAsSent returns the size of a command's payload as the broker sent
// it. A payload cut short is MaxCommandBytes+1 bytes long: only then is
// the record of its cut looked at, so that one left behind by a
// connection lost before paho handed its packet on cannot make a command
// within the limit look larger.
func (u *Uplink) sizeAsSent(id uint16, payload []byte) int {
	if len(payload) != u.cfg.MaxCommandBytes+1 {
		return len(payload)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	size, ok := u.cuts[id]
	if !ok {
		return len(payload)
	}
	delete(u.cuts, id)
	return size
}

// onUp reports the client certificate the connection presented, starts
// its publisher, subscribes to the commands topic and queues the online
// status.
func (u *Uplink) onUp(cm *autopaho.ConnectionManager, ack *paho.Connack) {
	u.mu.Lock()
	u.connects++
	u.state.Connected, u.state.Since = true, time.Now()
	u.state.Reconnects = u.connects - 1
	// The first connection after a Reconnect (a rotation's trial of a
	// certificate, its rollback) is always logged, with the certificate
	// it presented: it says which one the broker took. The others are
	// limited, against a flapping connection.
	requested := u.hurry
	u.hurry = false
	leaf := u.connLeaf
	if leaf != nil {
		u.presented = leaf
	}
	connection := u.connection
	done, runCtx := u.done, u.runCtx
	if !done {
		u.startPublisherLocked()
		u.tasks.Add(1)
	}
	u.mu.Unlock()
	if done {
		return // a connection made as Run stops
	}
	args := []any{"broker", u.cfg.Broker, "sessionPresent", ack.SessionPresent}
	if leaf != nil {
		args = append(args, "certSerial", leaf.SerialNumber.Text(16), "certNotAfter", leaf.NotAfter)
	}
	if requested {
		u.log.Info("mqtt: connected", args...)
	} else {
		u.lines.Info("connected", "mqtt: connected", args...)
	}
	if u.cfg.OnConnect != nil {
		u.cfg.OnConnect(leaf)
	}
	go func() {
		defer u.tasks.Done()
		ctx, cancel := context.WithTimeout(runCtx, u.cfg.ConnectTimeout)
		defer cancel()
		// The subscription first: a backend that sends a command as soon
		// as it sees the device online must find it subscribed, also on
		// the first connection, when the broker has no session yet.
		commands := []string{u.topics.Commands}
		if u.cfg.Protocol != ProtocolV1 {
			commands = append(commands, u.legacy.Commands)
		}
		subs := make([]paho.SubscribeOptions, len(commands))
		for i, topic := range commands {
			subs[i] = paho.SubscribeOptions{Topic: topic, QoS: 1}
		}
		if _, err := cm.Subscribe(ctx, &paho.Subscribe{Subscriptions: subs}); err != nil {
			u.lines.Error("subscribe", "mqtt: subscribe to commands", "topics", commands, "err", err)
		}
		if err := u.queueOnline(ctx, connection); err != nil {
			u.lines.Error("online status", "mqtt: queue the online status", "err", err)
		}
	}()
}

// onDown records the lost connection and stops its publisher; autopaho
// reconnects once it returns.
func (u *Uplink) onDown() bool {
	u.mu.Lock()
	u.state.Connected, u.state.Since = false, time.Now()
	stop := u.stopPublisher
	u.stopPublisher = nil
	u.mu.Unlock()
	if stop != nil {
		stop()
	}
	u.lines.Warn("lost", "mqtt: connection lost; reconnecting", "broker", u.cfg.Broker)
	return true
}

// startPublisherLocked starts the publisher of the connection just
// accepted (u.conn), under runCtx.
func (u *Uplink) startPublisherLocked() {
	ctx, cancel := context.WithCancel(u.runCtx)
	ended := make(chan struct{})
	u.stopPublisher = func() {
		cancel()
		<-ended
	}
	u.tasks.Add(1)
	go func(q *outboxQueue, sess *ackSession, conn *batchConn) {
		defer u.tasks.Done()
		defer close(ended)
		u.publish(ctx, q, sess, conn)
	}(u.queue, u.sess, u.conn)
}

// onMessage passes messages on the commands topics to the handler, which
// acknowledges each through the session's inbox; those on the legacy
// commands topic converted (fromLegacy).
func (u *Uplink) onMessage(ctx context.Context, sess *ackSession) func(paho.PublishReceived) (bool, error) {
	return func(pr paho.PublishReceived) (bool, error) {
		p := pr.Packet
		c := Command{Command: uplink.Command{Topic: p.Topic, Payload: p.Payload, Size: u.sizeAsSent(p.PacketID, p.Payload),
			ReceivedAt: time.Now(), DeadLetters: u.topics.DLQ, Ack: sess.inbox.receive(p.PacketID, p.QoS)}}
		if props := p.Properties; props != nil {
			c.ResponseTopic, c.CorrelationData = props.ResponseTopic, props.CorrelationData
			if props.MessageExpiry != nil {
				c.Expiry = c.ReceivedAt.Add(time.Duration(*props.MessageExpiry) * time.Second)
			}
		}
		// The format is the topic's, whatever the protocol: a session
		// kept from a run with another may still hold the subscription.
		if p.Topic == u.legacy.Commands {
			u.fromLegacy(&c)
		} else {
			c.Reply, c.ReplyHeaders = c.ReplyTo(u.topics.Responses)
		}
		if u.handle == nil {
			c.Ack()
			return true, nil
		}
		u.handle(ctx, c)
		return true, nil
	}
}

// loadTLS builds the TLS configuration from the files of cfg.
func loadTLS(cfg Config) (*tls.Config, error) {
	return tlsfiles.Config(cfg.CAFile, cfg.CertFile, cfg.KeyFile)
}

// reconnectBackoff returns the delay before connection attempt n
// (autopaho counts from 0, the first attempt, which waits for nothing):
// drawn from [0, d], d being lo before the second, doubling up to hi; draw
// gives the share of d (rand.Float64, or a test's seeded source). The full
// jitter puts a fleet that lost its broker at the same instant out of
// step, so that its gateways come back spread over hi.
func reconnectBackoff(lo, hi time.Duration, draw func() float64) func(int) time.Duration {
	return func(n int) time.Duration {
		if n <= 0 {
			return 0
		}
		return backoff.FullJitter(lo, hi, n, draw())
	}
}
