package rpc

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/agent/uplink"
	"github.com/iot-hub/agent/contracts"
)

// Outbox is what the dispatcher needs of the outbox: somewhere to put
// answers and dead letters, and the memos of answers given.
type Outbox interface {
	Append(ctx context.Context, recs ...outbox.Record) error
	AppendMemo(ctx context.Context, m outbox.Memo, recs ...outbox.Record) error
	Memo(key string) ([]byte, bool, error)
}

// Method runs one RPC method within ctx's deadline. params is the
// command's params object, nil when it has none. The result, nil for
// none, must encode as a JSON object (a struct or a map), the only result
// the contract allows: any other value is answered INTERNAL. An *Error is
// answered with its code, any other error INTERNAL.
type Method func(ctx context.Context, params jsontext.Value) (result any, err error)

// Dispatcher answers commands. Its methods are safe for concurrent use.
type Dispatcher struct {
	cfg     Config
	log     lines
	box     Outbox
	origin  contracts.Origin
	methods map[contracts.Method]Method
	events  map[contracts.EventType]EventHandler
	// eventsTopic is the device's events topic: the audit events'.
	eventsTopic string

	intake  chan struct{}  // bounds the requests being handled
	running chan struct{}  // bounds the methods running: Concurrency
	wg      sync.WaitGroup // the requests taken, until handled

	// Requests are handled by workers, which wait, up to Concurrency of
	// them, for the next once done (work).
	idle     chan uplink.Command // to a worker waiting; unbuffered
	waiting  atomic.Int32        // workers waiting
	stop     chan struct{}       // closed by Close: the workers waiting end
	stopOnce sync.Once
	workers  sync.WaitGroup

	mu      sync.Mutex
	flights map[string]*flight // commands running, by correlationId
	closed  bool
}

// flight is a command running, and every delivery of it waiting for its
// answer.
type flight struct {
	waiters []*uplink.Command
}

// intakeDepth bounds the requests handled at once per running slot:
// beyond it Handle blocks, and the uplink with it.
const intakeDepth = 8

// New returns a dispatcher that answers into box, with the methods of
// methods.go reading deps.
func New(cfg Config, box Outbox, deps Deps) (*Dispatcher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("rpc: %w", err)
	}
	cfg = cfg.withDefaults()
	o := contracts.DeviceOrigin(cfg.DeviceID)
	o.Clock = cfg.Clock.Now
	d := &Dispatcher{
		cfg: cfg, log: newLines(cfg), box: box, origin: o,
		intake:  make(chan struct{}, cfg.Concurrency*intakeDepth),
		running: make(chan struct{}, cfg.Concurrency),
		idle:    make(chan uplink.Command), stop: make(chan struct{}),
		flights: make(map[string]*flight),
	}
	topics, _ := contracts.DeviceTopics(cfg.DeviceID) // checked by Validate
	d.eventsTopic = topics.Events
	d.methods = methods(deps, cfg, d.audit)
	d.events = deps.Events
	return d, nil
}

// Handle takes a request and returns; the request is answered in the
// background. When many are being handled already, it waits for room.
// After Close it drops the request unacknowledged: the broker delivers it
// again to the next run.
func (d *Dispatcher) Handle(req uplink.Command) {
	if req.ReceivedAt.IsZero() {
		req.ReceivedAt = d.cfg.Clock.Now()
	}
	d.intake <- struct{}{}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		<-d.intake
		return
	}
	d.wg.Add(1)
	d.mu.Unlock()
	select {
	case d.idle <- req:
	default:
		d.workers.Add(1)
		go d.work(req)
	}
}

// work handles req, then waits for another while no more than
// Concurrency workers wait. A worker's goroutine keeps the stack its
// first request grew (decoding, the method, encoding: three times from
// a new goroutine's, about 5 µs of an answer's way on a small gateway);
// the garbage collector shrinks it while it waits long.
func (d *Dispatcher) work(req uplink.Command) {
	defer d.workers.Done()
	for {
		// Each request its own: a flight it joined, or its method's
		// timer, may still answer it once this worker has gone on.
		r := req
		d.handle(&r)
		<-d.intake
		d.wg.Done()
		if d.waiting.Add(1) > int32(d.cfg.Concurrency) {
			d.waiting.Add(-1)
			return
		}
		select {
		case req = <-d.idle:
			d.waiting.Add(-1)
		case <-d.stop:
			d.waiting.Add(-1)
			return
		}
	}
}

// Close stops taking requests and waits until those taken are answered
// (their methods' deadlines bound the wait) and the workers have ended.
func (d *Dispatcher) Close() {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	d.wg.Wait()
	d.stopOnce.Do(func() { close(d.stop) })
	d.workers.Wait()
}
