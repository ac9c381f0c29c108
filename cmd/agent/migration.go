package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/iot-hub/agent/agent/config"
	"github.com/iot-hub/agent/agent/health"
	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/agent/rpc"
	"github.com/iot-hub/agent/agent/uplink"
)

// migration runs MQTT and Kafka together, in the platform's migration
// phase (uplink.phase), as one link:
//
//   - A: both run, and every record goes out on both (outbox carriers).
//   - B: both run; records go out on Kafka, and on MQTT instead (an
//     outbox stand-in) once Kafka has been out for failoverAfter, until
//     it is back. Answers go back on the uplink their command came on.
//   - C: Kafka alone; the MQTT uplink does not run.
//
// SIGHUP reads the file again, and a new phase takes effect at once: no
// queued record is lost, as the outbox keeps each uplink's share.
type migration struct {
	log      *slog.Logger
	box      *outbox.Store
	kafka    *link
	openMQTT func() (*link, error) // a new MQTT uplink: one runs once
	failover time.Duration         // uplink.failoverAfter
	reloads  chan string           // new phases, from SIGHUP
	started  time.Time

	mu         sync.Mutex
	phase      string
	failedOver bool
	mqtt       *link // the MQTT uplink running, or last run
	mqttTask   *task // nil when it does not run
}

// openMigration makes the two uplinks of a configuration with both.
func openMigration(cfg *config.Config, log *slog.Logger, box *outbox.Store, d *rpc.Dispatcher, rot *rotation, meter *health.Metrics) (*link, error) {
	kl, err := openKafka(cfg, log, box.View(config.UplinkKafka), d, rot, meter)
	if err != nil {
		return nil, err
	}
	m := &migration{
		log: log, box: box, kafka: kl, failover: cfg.Uplink.FailoverAfter,
		reloads: make(chan string, 1), phase: cfg.Uplink.Phase,
		openMQTT: func() (*link, error) { return openMQTT(cfg, log, box.View(config.UplinkMQTT), d, nil, meter) },
	}
	// Made now, so that a bad MQTT configuration stops the agent at start
	// in every phase; run in phases A and B.
	if m.mqtt, err = m.openMQTT(); err != nil {
		return nil, err
	}
	return &link{
		run:         m.run,
		state:       m.state,
		certificate: kl.certificate,
		reloadTLS:   m.reloadTLS,
		reload: func(c *config.Config) {
			if c.UsesBoth() {
				m.reload(c.Uplink.Phase)
			}
		},
		migration:   m.report,
		stopTimeout: max(kl.stopTimeout, m.mqtt.stopTimeout),
	}, nil
}

// run runs the uplinks of the phase until ctx ends, or one of them
// stops by itself, which is an error.
func (m *migration) run(ctx context.Context) error {
	m.started = time.Now()
	kafkaTask := startTask("the Kafka uplink", m.kafka.run)
	m.mu.Lock()
	err := m.enterLocked(m.phase)
	m.mu.Unlock()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for err == nil {
		select {
		case <-ctx.Done():
			return m.stop(kafkaTask)
		case err = <-kafkaTask.ended():
			kafkaTask = nil
			err = fmt.Errorf("kafka: %w", orStopped(err))
		case err = <-m.mqttEnded():
			m.mu.Lock()
			m.mqttTask = nil
			m.mu.Unlock()
			err = fmt.Errorf("mqtt: %w", orStopped(err))
		case phase := <-m.reloads:
			m.mu.Lock()
			err = m.enterLocked(phase)
			m.mu.Unlock()
		case <-tick.C:
			m.checkFailover()
		}
	}
	return errors.Join(err, m.stop(kafkaTask))
}

// orStopped is err, or, for an uplink that returned nil by itself, why
// that is an error.
func orStopped(err error) error {
	if err == nil {
		return errors.New("the uplink stopped")
	}
	return err
}

// stop stops both uplinks at once, each within its stop timeout.
func (m *migration) stop(kafkaTask *task) error {
	m.mu.Lock()
	mt := m.mqttTask
	m.mqttTask = nil
	m.mu.Unlock()
	done := make(chan bool, 1)
	go func() { done <- mt.stop(m.mqtt.stopTimeout, nil, m.log) }()
	ok := kafkaTask.stop(m.kafka.stopTimeout, nil, m.log)
	if !<-done || !ok {
		return errors.New("an uplink did not stop in time")
	}
	return nil
}

func (m *migration) mqttEnded() <-chan error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mqttTask.ended()
}

// enterLocked puts the agent in phase: the outbox's routing, and the MQTT
// uplink started or stopped. m.mu must be held.
func (m *migration) enterLocked(phase string) error {
	if phase != m.phase {
		m.log.Info("migration: phase changed", "from", m.phase, "to", phase)
	}
	m.phase = phase
	if phase != config.PhaseB {
		m.failedOver = false
	}
	if err := m.box.SetRouting(m.routingLocked()); err != nil {
		return err
	}
	switch {
	case phase == config.PhaseC && m.mqttTask != nil:
		// Stopped while the lock is held: a few seconds at most, and
		// nothing else waits on the lock meanwhile but reports.
		m.mqttTask.stop(m.mqtt.stopTimeout, nil, m.log)
		m.mqttTask = nil
		m.mqtt.view.ReleaseAll()
	case phase != config.PhaseC && m.mqttTask == nil:
		if m.mqtt == nil || m.mqtt.ran {
			l, err := m.openMQTT()
			if err != nil {
				return err
			}
			m.mqtt = l
		}
		m.mqtt.ran = true
		m.mqttTask = startTask("the MQTT uplink", m.mqtt.run)
	}
	return nil
}

// routingLocked is the outbox routing of the phase. m.mu must be held.
func (m *migration) routingLocked() outbox.Routing {
	k, q := m.box.Route(config.UplinkKafka), m.box.Route(config.UplinkMQTT)
	switch {
	case m.phase == config.PhaseA:
		return outbox.Routing{Carriers: k | q}
	case m.phase == config.PhaseB && m.failedOver:
		return outbox.Routing{Carriers: k, Standins: q}
	}
	return outbox.Routing{Carriers: k}
}

// checkFailover, in phase B, moves the records to MQTT once Kafka has
// been out for failoverAfter, and back once it is up.
func (m *migration) checkFailover() {
	st := m.kafka.state()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.phase != config.PhaseB {
		return
	}
	since := st.Since
	if since.IsZero() {
		since = m.started
	}
	out := time.Since(since)
	switch {
	case !m.failedOver && !st.Connected && out >= m.failover:
		m.failedOver = true
		m.log.Warn("migration: Kafka is out; records go out on MQTT until it is back", "out", out.Round(time.Second), "failoverAfter", m.failover)
	case m.failedOver && st.Connected:
		m.failedOver = false
		m.log.Info("migration: Kafka is back; records go out on Kafka again", "duplicates", m.box.Stats().Duplicates)
	default:
		return
	}
	if err := m.box.SetRouting(m.routingLocked()); err != nil {
		m.log.Error("migration: outbox routing", "err", err)
	}
}

// reload takes a phase read again from the file (SIGHUP).
func (m *migration) reload(phase string) {
	select {
	case m.reloads <- phase:
	default: // one is pending: the file is read again on the next SIGHUP
		m.log.Warn("migration: a phase change is still being applied; send SIGHUP again")
	}
}

// state is the uplinks' connection: connected when every uplink that
// runs is.
func (m *migration) state() uplink.State {
	ks := m.kafka.state()
	m.mu.Lock()
	running := m.mqttTask != nil
	ml := m.mqtt
	m.mu.Unlock()
	if !running {
		return ks
	}
	ms := ml.state()
	st := uplink.State{Connected: ks.Connected && ms.Connected, Broker: ms.Broker + "," + ks.Broker, Reconnects: ks.Reconnects + ms.Reconnects}
	st.Since = ks.Since
	if ms.Since.After(st.Since) {
		st.Since = ms.Since
	}
	return st
}

// reloadTLS is SIGHUP for both uplinks' TLS files.
func (m *migration) reloadTLS() {
	m.mu.Lock()
	ml := m.mqtt
	m.mu.Unlock()
	ml.reloadTLS()
	m.kafka.reloadTLS()
}

// report is what getDeviceState says of the migration.
func (m *migration) report() rpc.Migration {
	ks := m.kafka.state()
	m.mu.Lock()
	r := rpc.Migration{Phase: m.phase, FailedOver: m.failedOver}
	running := m.mqttTask != nil
	ml := m.mqtt
	m.mu.Unlock()
	r.Duplicates = m.box.Stats().Duplicates
	for _, u := range m.box.Uplinks() {
		share := rpc.UplinkShare{UplinkStats: u, Running: true, State: ks}
		if u.Name == config.UplinkMQTT {
			share.Running, share.State = running, ml.state()
		}
		r.Uplinks = append(r.Uplinks, share)
	}
	return r
}
