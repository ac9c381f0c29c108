package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/agent/record"
	"github.com/iot-hub/agent/agent/uplink"
	"github.com/iot-hub/agent/agent/uplink/status"
	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/internal/lograte"
)

// Outbox is what the uplink needs of the outbox, by role: records to
// produce (TryNextBatch) and their outcome (uplink.Settler), a way to
// queue its own status events (Append), and cursors (status.Store) that
// keep the connection number and the offset of the commands read.
type Outbox interface {
	TryNextBatch(b *outbox.Batch, max int, wake chan struct{}) error
	uplink.Settler
	Append(ctx context.Context, recs ...outbox.Record) error
	status.Store
}

var _ Outbox = (*outbox.Store)(nil)

// Uplink produces the outbox to Kafka and reads the device's commands.
// Run it once; its methods are safe for concurrent use.
type Uplink struct {
	cfg    Config
	box    Outbox
	handle Handler
	log    *slog.Logger
	lines  *lograte.Logger   // the lines the brokers set the pace of, by kind; franz-go's by message
	key    []byte            // the device id, as a record key
	topics map[string]string // the contracts' topic → its configured name
	ran    atomic.Bool
	up     atomic.Bool // state.Connected, read without the lock
	seen   atomic.Bool // an exchange was recorded

	mu    sync.Mutex
	state uplink.State
	ups   int // times Connected became true
}

// New checks cfg and returns an uplink that produces what box hands out
// and passes the device's commands to handle (a nil handle acknowledges
// them unread). box must stay open until Run has returned.
func New(cfg Config, box Outbox, handle Handler) (*Uplink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	cfg = cfg.withDefaults()
	u := &Uplink{
		cfg: cfg, box: box, handle: handle, log: cfg.Logger, lines: lograte.New(cfg.Logger, lograte.Config{Interval: rateEvery}),
		key:   []byte(cfg.DeviceID),
		state: uplink.State{Broker: strings.Join(cfg.Brokers, ",")}, topics: cfg.Topics.byContract(),
	}
	if cfg.SASL.Mechanism == MechanismPlain && cfg.TLS == nil {
		u.log.Warn("kafka: SASL PLAIN without TLS sends the password in clear text", "brokers", u.state.Broker)
	}
	return u, nil
}

// State returns the connection state.
func (u *Uplink) State() uplink.State {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.state
}

// setConnected records the outcome of an exchange with a broker. It is
// called on every response: when nothing changes it takes no lock.
func (u *Uplink) setConnected(up bool) {
	if u.seen.Load() && u.up.Load() == up {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.seen.Load() && u.state.Connected == up {
		return
	}
	u.seen.Store(true)
	u.up.Store(up)
	u.state.Connected, u.state.Since = up, time.Now()
	if up {
		u.ups++
		u.state.Reconnects = u.ups - 1
	}
}

// Run produces the outbox and reads commands until ctx ends. It queues an
// online device.status.changed when it starts, and an offline one when
// it stops, both numbered with a new connection number (package status).
// Kafka has no Last Will: after a crash or kill -9 the online stays the
// device's status until the next start's online, of a higher number. Stopping is bounded: it waits up to ConnectTimeout for the
// records in flight and the offline status, and releases what the
// brokers have not acknowledged by then, for the next start. It returns
// an error only when it cannot start.
func (u *Uplink) Run(ctx context.Context) error {
	if !u.ran.CompareAndSwap(false, true) {
		return errors.New("kafka: Run called twice")
	}
	cl, err := kgo.NewClient(u.producerOpts()...)
	if err != nil {
		return fmt.Errorf("kafka: producer: %w", err)
	}
	connection, err := status.NextConnection(ctx, u.box)
	if err != nil {
		cl.Close()
		return fmt.Errorf("kafka: %w", err)
	}
	u.queueStatus(ctx, contracts.DeviceOnline, status.ReasonStarted, connection)

	cmds := newConsumer(u, cl)
	cmdsDone := make(chan struct{})
	go func() {
		defer close(cmdsDone)
		cmds.run(ctx)
	}()

	p := newProducer(u, cl)
	p.run(ctx)

	stopCtx, cancel := context.WithTimeout(context.Background(), u.cfg.ConnectTimeout)
	defer cancel()
	p.offline = u.queueStatus(stopCtx, contracts.DeviceOffline, status.ReasonStopped, connection)
	if !p.finish(stopCtx) {
		u.log.Warn("kafka: stopped before every record produced was acknowledged; they are sent again on the next start")
	}
	<-cmdsDone // bounded: the consumer's own stop waits up to ConnectTimeout
	cl.Close() // fails what it holds: abandon releases it
	p.abandon()
	return nil
}

// queueStatus appends a device.status.changed event of this device to the
// outbox's control lane and returns its correlationId; "" if it could not.
func (u *Uplink) queueStatus(ctx context.Context, s contracts.DeviceStatus, reason string, connection uint64) string {
	m := status.Event(u.cfg.DeviceID, s, reason, connection)
	b, err := contracts.Encode(m)
	if err == nil {
		ctx, cancel := context.WithTimeout(ctx, u.cfg.ConnectTimeout)
		defer cancel()
		err = u.box.Append(ctx, record.Of(outbox.LaneControl, m.EventType.Topic(), u.cfg.DeviceID, record.HeadOf(m.Header()), b))
	}
	if err != nil {
		u.log.Error("kafka: queue the device status", "status", s, "err", err)
		return ""
	}
	return m.CorrelationID
}
