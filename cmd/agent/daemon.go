package main

import (
	"crypto/x509"
	"log/slog"
	"maps"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/iot-hub/agent/agent/binding"
	"github.com/iot-hub/agent/agent/broker"
	"github.com/iot-hub/agent/agent/config"
	"github.com/iot-hub/agent/agent/health"
	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/agent/rpc"
	"github.com/iot-hub/agent/agent/sensors"
	"github.com/iot-hub/agent/agent/sensors/drivers"
	"github.com/iot-hub/agent/agent/uplink"
	"github.com/iot-hub/agent/agent/uplink/mqtt"
	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/internal/logring"
)

// sensorStartJitter delays the sensors' first reads by up to this long
// (or their interval, if shorter), so that gateways that start together
// do not publish in step.
const sensorStartJitter = 10 * time.Second

// samplerStopTimeout bounds the wait for the sensors to stop: a read must
// return soon after its context ends.
const samplerStopTimeout = 5 * time.Second

// rpcTestHook, when set, changes what the RPC methods read. It is nil in
// the agent; cmd/agent's end-to-end tests, which run their test binary as
// the agent, set it to make a method panic as a bug would, to see the
// agent answer INTERNAL through a real broker and keep running.
var rpcTestHook func(rpc.Deps) rpc.Deps

// runAgent runs the agent until SIGTERM or SIGINT arrives on sigs, and
// returns the exit code. It owns everything it starts: the outbox, the
// embedded broker, and a task (tasks.go) per component that runs: the
// sampler, the uplink, the certificate rotation, the health endpoint.
//
// With health enabled, the health and metrics endpoint listens before
// anything runs, serves once the uplink runs, and stops first.
//
// Stopping: the health endpoint, the sensors (no new telemetry), the
// commands being run, the rotation, then the uplink, which waits up to
// its ConnectTimeout for the publishes in flight and disconnects so that
// the broker publishes the offline status; then the embedded broker and
// the outbox close. Every wait is bounded; a second SIGTERM or SIGINT
// exits at once (the outbox is safe against that).
func runAgent(cfg *config.Config, remote *remoteConfig, log *slog.Logger, ring *logring.Ring, sigs <-chan os.Signal) int {
	cpu, err := runOnOneCore()
	if err != nil {
		log.Warn("agent: runs on every CPU it may", "err", err)
	}
	log.Info("agent starting", "version", version, "slot", runningSlot(), "deviceId", cfg.DeviceID, "broker", brokers(cfg), "phase", cfg.Uplink.Phase, "stateDir", cfg.StateDir,
		"gomaxprocs", runtime.GOMAXPROCS(0), "cpu", cpu)
	p := parts{logs: ring, remote: remote, restart: make(chan restartRequest, 1)}
	defer p.close()
	if err := p.open(cfg, log); err != nil {
		log.Error("agent: "+err.what, "err", err.err)
		return exitError
	}
	return p.serve(cfg, log, sigs)
}

// parts are what runAgent opens, in the order it opens them, and the
// closers it runs, in the reverse order, once everything stopped.
type parts struct {
	logs       *logring.Ring         // the latest log lines; nil with getLogs off
	restart    chan restartRequest   // stop, to be started again
	remote     *remoteConfig         // the configuration setConfig keeps, and its trial
	trial      atomic.Pointer[trial] // the change this run is on trial with; nil when none
	updater    *updater              // nil with updateAgent off
	binding    *binding.Store
	box        *outbox.Store
	broker     *broker.Broker // nil without the embedded broker
	sampler    *sensors.Sampler
	rot        *rotation
	dispatcher *rpc.Dispatcher
	up         *link
	hs         *health.Server // nil with health off
	closers    []func()
}

// openError is a part that could not be opened: what, for the log line
// "agent: <what>", and why.
type openError struct {
	what string
	err  error
}

// open opens the parts; each one opened is closed by close, even when a
// later one fails.
func (p *parts) open(cfg *config.Config, log *slog.Logger) *openError {
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return &openError{"state directory", err}
	}
	box, err := outbox.Open(cfg.OutboxPath(), cfg.OutboxConfig(log))
	if err != nil {
		return &openError{"open the outbox", err}
	}
	p.box = box
	p.closers = append(p.closers, func() { closeOutbox(box, log) })

	set, err := drivers.Open(cfg.Sensors, cfg.StateDir, log)
	if err != nil {
		return &openError{"sensors", err}
	}
	p.closers = append(p.closers, func() { // after the sampler has stopped
		if err := set.Close(); err != nil {
			log.Warn("agent: closing the sensors", "err", err)
		}
	})
	// The sensors' readings and the devices' messages go into the outbox
	// in groups: see coalescer.
	telemetry := newCoalescer(box, telemetryWindow(set.Schedules), groupRecords, groupBytes)
	if eb := cfg.Uplink.MQTT.EmbeddedBroker; eb.Enabled {
		in, err := newIntegrator(cfg.DeviceID, telemetry, log)
		if err != nil {
			return &openError{"embedded broker", err}
		}
		b, err := broker.Start(broker.Config{Settings: eb, Logger: log, OnMessage: in.take})
		if err != nil {
			return &openError{"embedded broker", err}
		}
		log.Info("embedded MQTT broker listening", "addr", b.Addr())
		p.broker = b
		// Closed before the outbox; and after the uplink has stopped, so
		// that its offline status reaches the broker's subscribers.
		p.closers = append(p.closers, func() {
			if err := b.Close(); err != nil {
				log.Warn("agent: embedded broker", "err", err)
			}
		})
	}

	// The readings of a window go as one device.telemetry event; not
	// where the uplink also renders telemetry in the legacy format,
	// whose one flat object a reading cannot hold two sensors' metrics of
	// the same name: there each read makes its own event.
	var readings sensors.Appender = struct{ sensors.Appender }{telemetry}
	if cfg.Uplink.MQTT.Protocol == mqtt.ProtocolV1 {
		if err := telemetry.mergeReadingsOf(cfg.DeviceID); err != nil {
			return &openError{"sensors", err}
		}
		readings = telemetry
	}
	if p.sampler, err = sensors.NewSampler(sensors.SamplerConfig{DeviceID: cfg.DeviceID, Logger: log, StartJitter: sensorStartJitter}, readings, set.Schedules...); err != nil {
		return &openError{"sensors", err}
	}
	if p.rot, err = openRotation(cfg, log, box); err != nil {
		return &openError{"client certificate", err}
	}
	if p.binding, err = binding.Open(cfg.StateDir, cfg.DeviceID); err != nil {
		return &openError{"binding", err}
	}
	var meter *health.Metrics // what the components count for /metrics; nil with health off
	if cfg.Health.Enabled {
		meter = health.NewMetrics()
	}
	if p.dispatcher, err = p.openDispatcher(cfg, log, meter); err != nil {
		return &openError{"rpc", err}
	}
	if err := p.reportConfigRolledBack(log); err != nil {
		log.Error("setConfig: the rollback's audit event", "err", err)
	}
	if err := p.reportUpdateRolledBack(cfg.StateDir, log); err != nil {
		log.Error("updateAgent: the rollback's audit event", "err", err)
	}
	if t := p.configTrial(); t != nil {
		p.trial.Store(t)
	} else if t, err := updateTrial(cfg.StateDir); err != nil {
		return &openError{"update", err}
	} else if t != nil {
		p.trial.Store(t)
	}
	if p.up, err = openUplink(cfg, log, box, p.dispatcher, p.rot, meter); err != nil {
		return &openError{"uplink", err}
	}
	if p.hs, err = p.listenHealth(cfg, log, meter); err != nil {
		return &openError{"health", err}
	}
	return nil
}

// openDispatcher makes the RPC dispatcher, whose methods read the
// parts, the uplink once it exists.
func (p *parts) openDispatcher(cfg *config.Config, log *slog.Logger, meter *health.Metrics) (*rpc.Dispatcher, error) {
	deps := rpc.Deps{
		Version: version, StateDir: cfg.StateDir, Started: time.Now(),
		Uplink:      func() uplink.State { return p.up.state() },
		Outbox:      p.box.Stats,
		Sensors:     p.sampler,
		Certificate: func() *x509.Certificate { return p.up.certificate() },
		Renewal:     p.rot.renewal(),
		Events:      bindingEvents(p.binding, log),
		Binding:     p.binding.Status,
	}
	maps.Copy(deps.Events, p.rot.events(cfg.DeviceID))
	if p.broker != nil {
		deps.Broker = p.broker.Stats
	}
	if p.logs != nil {
		deps.Logs = p.logs
	}
	if cfg.UsesBoth() {
		deps.Migration = func() rpc.Migration { return p.up.migration() }
	}
	deps.Restart = func(reason string) { p.requestRestart(contracts.MethodRestartAgent, reason) }
	deps.Slot = runningSlot()
	u, err := newUpdater(cfg, log, func(reason string) { p.requestRestart(contracts.MethodUpdateAgent, reason) },
		func(a rpc.Audit) { p.audit(log, a) }, p.refuseOnTrial)
	if err != nil {
		return nil, err
	}
	if u != nil {
		p.updater = u
		p.closers = append(p.closers, u.Close) // before the outbox closes
		deps.Update = u.Start
	}
	deps.SetConfig = p.planConfig(cfg)
	deps.Config = func() (jsontext.Value, error) {
		running := *cfg
		if deps.Migration != nil { // SIGHUP may have changed it
			running.Uplink.Phase = deps.Migration().Phase
		}
		return running.MaskedJSON()
	}
	if rpcTestHook != nil {
		deps = rpcTestHook(deps)
	}
	rc := cfg.RPCConfig(log)
	if meter != nil {
		rc.Observe = meter.RPC
	}
	return rpc.New(rc, p.box, deps)
}

// restartRequest is a method's request that the agent restart, and why.
type restartRequest struct {
	by     contracts.Method
	reason string
}

// requestRestart has serve stop the agent, to be started again (exit
// code 75), as method by asked for reason.
func (p *parts) requestRestart(by contracts.Method, reason string) {
	select {
	case p.restart <- restartRequest{by, reason}:
	default: // one asked already
	}
}

// close runs the closers, the last opened first.
func (p *parts) close() {
	for i := len(p.closers) - 1; i >= 0; i-- {
		p.closers[i]()
	}
}

// serve runs the parts as tasks until SIGTERM or SIGINT on sigs, or
// until the uplink stops, then stops them, and returns the exit code.
func (p *parts) serve(cfg *config.Config, log *slog.Logger, sigs <-chan os.Signal) int {
	up := p.up
	sampling := startTask("the sensors", p.sampler.Run)
	uplinking := startTask("the uplink", up.run)
	rotating := p.rot.start()
	var serving *task // nil with health off, or once it failed
	if p.hs != nil {
		serving = startTask("the health endpoint", p.hs.Run)
		log.Info("health: listening", "addr", p.hs.Addr().String())
	}

	notify := newNotifier(log, up, p.box)
	notify.ready()
	pings, stopPings := notify.tick()
	defer stopPings()

	trial := p.watchTrial()
	defer func() { trial.stop() }()

	code := exitOK
wait:
	for {
		select {
		case <-trial.poll:
			if p.trialConnected(log) {
				trial.stop()
				trial = trialWatch{stop: func() {}}
			}
		case <-trial.expired:
			p.trialExpired(log)
			code = exitRestart
			break wait
		case <-pings:
			notify.ping()
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				up.reloadTLS()
				reloadConfig(cfg, log, up)
				continue
			}
			log.Info("agent stopping", "signal", sig.String())
			break wait
		case req := <-p.restart:
			log.Info("agent restarting: "+string(req.by), "reason", req.reason)
			p.awaitControl(restartGrace)
			code = exitRestart
			break wait
		case err := <-uplinking.ended():
			uplinking = nil
			log.Error("agent: the uplink stopped", "err", err)
			code = exitError
			break wait
		case err := <-serving.ended(): // the agent's work goes on without it
			serving = nil
			log.Error("agent: the health endpoint stopped", "err", err)
		}
	}

	notify.stopping()
	// Each is stopped, in this order, whether the one before stopped in
	// time or not.
	ok := serving.stop(health.ShutdownTimeout+time.Second, sigs, log)
	ok = sampling.stop(samplerStopTimeout, sigs, log) && ok
	// The commands being run are answered while the uplink still runs, so
	// their answers and acknowledgements can go out; commands that come
	// meanwhile are left unacknowledged, for the next run.
	ok = waitTask("the commands being run", p.dispatcher.Close).stop(cfg.RPC.Timeout+5*time.Second, sigs, log) && ok
	// A rotation stops between its steps, each durable: the next run
	// resumes it.
	ok = rotating.stop(15*time.Second, sigs, log) && ok
	ok = uplinking.stop(up.stopTimeout, sigs, log) && ok
	if !ok {
		code = exitError
	}
	return code
}

// reloadConfig is SIGHUP for the configuration: the file is read again,
// and the uplinks take the phase from it. Other keys take effect at the
// next start.
func reloadConfig(cfg *config.Config, log *slog.Logger, up *link) {
	if up.reload == nil {
		return
	}
	c, err := cfg.Reload()
	if err != nil {
		log.Error("SIGHUP: configuration not reloaded; the agent goes on as it was", "err", err)
		return
	}
	if !c.UsesBoth() {
		log.Warn("SIGHUP: the file no longer configures both uplinks; restart the agent to run one")
		return
	}
	up.reload(c)
}

// brokers names the uplinks' brokers, for the start's log line.
func brokers(cfg *config.Config) string {
	var bs []string
	if cfg.UsesMQTT() {
		bs = append(bs, cfg.Uplink.MQTT.Broker)
	}
	return strings.Join(append(bs, cfg.Uplink.Kafka.Brokers...), ",")
}

// closeOutbox closes the outbox, logging what is left in it.
func closeOutbox(box *outbox.Store, log *slog.Logger) {
	st := box.Stats()
	if err := box.Close(); err != nil {
		log.Error("agent: close the outbox", "err", err)
		return
	}
	log.Info("agent stopped", "outboxControl", st.Control.Depth, "outboxTelemetry", st.Telemetry.Depth,
		"droppedCap", st.Dropped.Cap, "droppedExpired", st.Dropped.Expired, "quarantined", st.Quarantined)
}

// listenHealth makes the health and metrics endpoint when it is enabled,
// listening already, on the agent's parts; nil when it is not.
func (p *parts) listenHealth(cfg *config.Config, log *slog.Logger, meter *health.Metrics) (*health.Server, error) {
	if !cfg.Health.Enabled {
		return nil, nil
	}
	src := health.Sources{
		Version:     version,
		Uplink:      p.up.state,
		Outbox:      p.box,
		Sensors:     p.sampler,
		Certificate: p.up.certificate,
	}
	if p.broker != nil {
		src.Broker = p.broker.Stats
	}
	src.Commands, src.DeviceID, src.MaxCommandBytes = p.dispatcher, cfg.DeviceID, int(cfg.RPC.MaxCommandBytes)
	return health.Listen(cfg.HealthConfig(log), src, meter)
}

// restartGrace bounds restartAgent's wait for its answer and its audit
// event to go out before the agent stops; what has not gone out by then
// goes after the restart, kept in the outbox.
const restartGrace = 3 * time.Second

// awaitControl waits, up to limit, until the outbox's control lane (the
// answers, the events) has been sent and acknowledged.
func (p *parts) awaitControl(limit time.Duration) {
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if st := p.box.Stats(); st.Err == nil && st.Control.Depth == 0 {
			return
		}
	}
}
