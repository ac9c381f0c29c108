package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"time"

	"github.com/iot-hub/agent/agent/config"
	"github.com/iot-hub/agent/agent/health"
	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/agent/rpc"
	"github.com/iot-hub/agent/agent/uplink"
	"github.com/iot-hub/agent/agent/uplink/kafka"
	"github.com/iot-hub/agent/agent/uplink/mqtt"
)

// link is what the daemon needs of its connection to the backend, MQTT
// or Kafka, whichever the configuration chooses, or both (migration.go).
type link struct {
	name        string       // config.UplinkMQTT or UplinkKafka; "" for both
	view        *outbox.View // its outbox; nil for both
	run         func(ctx context.Context) error
	state       func() uplink.State
	certificate func() *x509.Certificate
	reloadTLS   func() // SIGHUP
	// reload takes the configuration read again (SIGHUP): the phase, for
	// both uplinks; nil for one.
	reload func(*config.Config)
	// migration reports the phase and each uplink's share, for both
	// uplinks; nil for one.
	migration   func() rpc.Migration
	ran         bool // run was started: a link runs once
	stopTimeout time.Duration
}

// openUplink makes the configured uplink, or both in their migration
// phase, which drain box and hand the commands they receive to d, and
// tell meter, when not nil, of every record the brokers acknowledged and
// every command read for another device. With rot, the uplink that
// presents the client certificate (Kafka's, when both run) presents the
// rotation's and tells it of every connection.
func openUplink(cfg *config.Config, log *slog.Logger, box *outbox.Store, d *rpc.Dispatcher, rot *rotation, meter *health.Metrics) (*link, error) {
	switch {
	case cfg.UsesBoth():
		return openMigration(cfg, log, box, d, rot, meter)
	case cfg.UsesKafka():
		return openKafka(cfg, log, box.View(config.UplinkKafka), d, rot, meter)
	}
	return openMQTT(cfg, log, box.View(config.UplinkMQTT), d, rot, meter)
}

// openMQTT makes the MQTT uplink, on its view of the outbox.
func openMQTT(cfg *config.Config, log *slog.Logger, view *outbox.View, d *rpc.Dispatcher, rot *rotation, meter *health.Metrics) (*link, error) {
	mc := cfg.MQTTConfig(log)
	if meter != nil {
		mc.OnPublished = meter.Published
	}
	if rot != nil {
		// The factory files were imported into the store: the store's
		// current pair is what the uplink presents from now on.
		mc.CertFile, mc.KeyFile = "", ""
		mc.Certificates, mc.OnConnect = rot.rot, rot.rot.Connected
	}
	up, err := mqtt.New(mc, view, dispatchMQTT(d, view.Route()))
	if err != nil {
		return nil, err
	}
	if rot != nil {
		rot.up.set(up)
	}
	return &link{
		name:        config.UplinkMQTT,
		view:        view,
		run:         up.Run,
		state:       up.State,
		certificate: up.Certificate,
		reloadTLS:   func() { reloadMQTTTLS(up, cfg, log) },
		// It waits up to ConnectTimeout for the publishes in flight, then
		// up to ConnectTimeout for the disconnection.
		stopTimeout: 2*cfg.Uplink.MQTT.ConnectTimeout + 5*time.Second,
	}, nil
}

// openKafka makes the Kafka uplink. With rot, its connections present
// the rotation's pair, and new certificates are tried with Probe.
func openKafka(cfg *config.Config, log *slog.Logger, view *outbox.View, d *rpc.Dispatcher, rot *rotation, meter *health.Metrics) (*link, error) {
	kc, err := cfg.KafkaConfig(log)
	if err != nil {
		return nil, err
	}
	if meter != nil {
		kc.OnPublished, kc.OnOtherDevice = meter.Published, meter.OtherDevice
	}
	if rot != nil {
		kc.TLS.Certificates = nil
		kc.TLS.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return rot.rot.ClientCertificate() }
	}
	up, err := kafka.New(kc, view, dispatchKafka(d, view.Route()))
	if err != nil {
		return nil, err
	}
	var certificate func() *x509.Certificate
	switch {
	case rot != nil:
		rot.up.set(kafkaTrial{up: up, r: rot, timeout: kc.ConnectTimeout, log: log})
		certificate = rot.certificate
	case kc.TLS != nil && len(kc.TLS.Certificates) > 0:
		cert, _ := x509.ParseCertificate(kc.TLS.Certificates[0].Certificate[0])
		certificate = func() *x509.Certificate { return cert }
	default:
		certificate = func() *x509.Certificate { return nil }
	}
	return &link{
		name:        config.UplinkKafka,
		view:        view,
		run:         up.Run,
		state:       up.State,
		certificate: certificate,
		reloadTLS: func() {
			log.Info("SIGHUP: the Kafka uplink reads its TLS files at start only; restart the agent to use new ones")
		},
		// Each of its stop's waits is bounded by ConnectTimeout: the records
		// in flight, the offline status, the last command cursor.
		stopTimeout: 3*kc.ConnectTimeout + 5*time.Second,
	}, nil
}

// reloadMQTTTLS is SIGHUP for the MQTT uplink: its next connection uses
// the TLS files as they are now.
func reloadMQTTTLS(up *mqtt.Uplink, cfg *config.Config, log *slog.Logger) {
	if !mqtt.UsesTLS(cfg.Uplink.MQTT.Broker) {
		log.Info("SIGHUP: the broker is not TLS; nothing to reload")
		return
	}
	if err := up.ReloadTLS(); err != nil {
		log.Error("SIGHUP: TLS files not reloaded; the uplink keeps the previous ones", "err", err)
		return
	}
	log.Info("SIGHUP: TLS files reloaded; the next connection uses them")
}

// dispatchMQTT and dispatchKafka are the uplinks' command handlers: each
// hands the dispatcher the command as the uplink filled it in, answered
// on route, the uplink's.
func dispatchMQTT(d *rpc.Dispatcher, route outbox.Route) mqtt.Handler {
	return func(_ context.Context, c mqtt.Command) {
		c.Route = route
		d.Handle(c.Command)
	}
}

func dispatchKafka(d *rpc.Dispatcher, route outbox.Route) kafka.Handler {
	return func(_ context.Context, c kafka.Command) {
		c.Route = route
		d.Handle(c.Command)
	}
}
