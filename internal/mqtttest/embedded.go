package mqtttest

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"syscall"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"

	"github.com/iot-hub/agent/agent/broker"
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
	var tlsConfig *tls.Config
	if b.opts.TLS {
		tlsConfig = b.certs.serverTLSConfig(b.opts.RequireClientCert)
	}
	ln := broker.NewListener("tcp", b.addr, tlsConfig)
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
	b.mochiLn.Quiesce()
	_ = b.mochi.Close()
	b.mochi, b.mochiLn = nil, nil
}

func isAddrInUse(err error) bool {
	return errors.Is(err, syscall.EADDRINUSE)
}
