package main

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/iot-hub/agent/agent/certs"
	"github.com/iot-hub/agent/agent/config"
	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/agent/rpc"
	"github.com/iot-hub/agent/agent/uplink/kafka"
	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/internal/atomicfile"
)

// certsTestHook, when set, changes the rotation's configuration. It is
// nil in the agent; cmd/agent's end-to-end tests set it to kill the
// agent at a step of a rotation (CrashPoint) and to shorten its waits.
var certsTestHook func(*certs.RotatorConfig)

// rotation is the renewal of the client certificate, when the agent
// renews it: the rotator, and the uplink it reconnects, known only once
// the uplink is made (which needs the rotator for its certificate).
type rotation struct {
	rot *certs.Rotator
	up  lateUplink

	// The trials of certificates on Kafka (kafkaTrial) run on goroutines
	// of their own, under the rotation's context; its task waits for
	// them.
	mu     sync.Mutex
	ctx    context.Context // the running rotation's; nil before
	trials sync.WaitGroup
}

// start runs the rotator as a task, whose stop also waits for the trials
// it started; nil without a rotation.
func (r *rotation) start() *task {
	if r == nil {
		return nil
	}
	return startTask("the certificate rotation", func(ctx context.Context) error {
		r.mu.Lock()
		r.ctx = ctx
		r.mu.Unlock()
		err := r.rot.Run(ctx)
		r.trials.Wait()
		return err
	})
}

// try runs a trial on a goroutine of its own, under the rotation's
// context, unless the rotation is not running.
func (r *rotation) try(trial func(ctx context.Context)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ctx == nil || r.ctx.Err() != nil {
		return
	}
	r.trials.Add(1)
	go func() {
		defer r.trials.Done()
		trial(r.ctx)
	}()
}

// lateUplink is the rotator's Uplink, set once the uplink exists.
type lateUplink struct {
	mu sync.Mutex
	up certs.Uplink
}

func (l *lateUplink) set(up certs.Uplink) {
	l.mu.Lock()
	l.up = up
	l.mu.Unlock()
}

func (l *lateUplink) Reconnect() {
	l.mu.Lock()
	up := l.up
	l.mu.Unlock()
	if up != nil {
		up.Reconnect()
	}
}

// openRotation opens the certificate store (refusing a directory others
// could read), imports the factory pair at the first start, and makes
// the rotator; nil when the agent does not renew its certificate.
func openRotation(cfg *config.Config, log *slog.Logger, box *outbox.Store) (*rotation, error) {
	if !cfg.Rotates() {
		return nil, nil
	}
	store, err := certs.OpenStore(cfg.CertsDir())
	if err != nil {
		return nil, err
	}
	certFile, keyFile := cfg.FactoryPair()
	imported, err := store.Import(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("the factory certificate (the uplink's certFile, keyFile): %w", err)
	}
	if imported {
		log.Info("certs: factory certificate imported; the agent presents the store's current pair from now on", "certFile", certFile, "store", cfg.CertsDir())
	}
	rc, err := cfg.RotatorConfig(log)
	if err != nil {
		return nil, err
	}
	topics, _ := contracts.DeviceTopics(cfg.DeviceID) // checked by the config
	r := &rotation{}
	rc.Store, rc.Outbox, rc.Uplink, rc.Topic = store, box, &r.up, topics.Events
	if certsTestHook != nil {
		certsTestHook(&rc)
	}
	if r.rot, err = certs.NewRotator(rc); err != nil {
		return nil, err
	}
	st := r.rot.Status()
	log.Info("certs: client certificate", "serial", st.Serial, "notAfter", st.NotAfter.UTC().Format(time.RFC3339),
		"renewAt", st.RenewAt.UTC().Format(time.RFC3339), "state", st.State)
	return r, nil
}

// events returns the dispatcher's handlers of the rotation's messages.
func (r *rotation) events(deviceID string) map[contracts.EventType]rpc.EventHandler {
	if r == nil {
		return nil
	}
	return map[contracts.EventType]rpc.EventHandler{
		contracts.TypeCertificateIssued: func(ctx context.Context, m contracts.Message) error {
			return r.rot.Issued(ctx, m.(*contracts.CertificateIssued))
		},
		contracts.TypeCertificateCommandRotate: func(ctx context.Context, m contracts.Message) error {
			c := m.(*contracts.CertificateCommandRotate)
			if c.Payload.DeviceID != deviceID {
				return fmt.Errorf("payload.deviceId: the command is for %q; this is %q", c.Payload.DeviceID, deviceID)
			}
			reason := c.Payload.Reason
			if reason == "" {
				reason = "requested by the backend (certificate.command.rotate)"
			}
			return r.rot.Rotate(ctx, reason)
		},
	}
}

// certificate returns the leaf of the pair the agent presents.
func (r *rotation) certificate() *x509.Certificate {
	c, err := r.rot.ClientCertificate()
	if err != nil {
		return nil
	}
	return c.Leaf
}

// kafkaTrial is the rotator's Uplink with Kafka: franz-go cannot be made
// to reconnect, so a new certificate is tried on a connection of its own
// (Probe), and reported as connected when the brokers take it. The
// uplink's connections take the current pair whenever they connect.
type kafkaTrial struct {
	up      *kafka.Uplink
	r       *rotation
	timeout time.Duration
	log     *slog.Logger
}

func (k kafkaTrial) Reconnect() {
	k.r.try(func(ctx context.Context) {
		cert, err := k.r.rot.ClientCertificate()
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(ctx, k.timeout)
		defer cancel()
		if err := k.up.Probe(ctx, cert); err != nil {
			k.log.Warn("certs: the Kafka brokers refuse the certificate", "serial", cert.Leaf.SerialNumber.Text(16), "err", err)
			return
		}
		k.r.rot.Connected(cert.Leaf)
	})
}

// renewal returns getDeviceState's view of the renewal; nil without one.
func (r *rotation) renewal() func() certs.Status {
	if r == nil {
		return nil
	}
	return r.rot.Status
}

// certCmd is "agent cert rotate --config FILE [--reason TEXT]": it asks
// the running agent to renew its certificate now, through a request file
// in the state directory that the agent looks for every few seconds.
func certCmd(args []string, stdout, stderr io.Writer) int {
	const usage = "Usage: agent cert rotate --config FILE [--reason TEXT]"
	if len(args) == 0 || args[0] != "rotate" {
		fmt.Fprintln(stderr, usage)
		return exitUsage
	}
	fs := flag.NewFlagSet("agent cert rotate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "the agent's configuration `FILE` (required)")
	reason := fs.String("reason", "", "why, for the certificate.csr.created event")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if *path == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, usage)
		return exitUsage
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintln(stderr, "agent:", err)
		return exitError
	}
	if !cfg.Rotates() {
		fmt.Fprintln(stderr, "agent: this configuration does not renew a client certificate (it needs the uplink's certFile, over TLS, and certificates.rotation: on)")
		return exitError
	}
	text := strings.TrimSpace(*reason)
	if text == "" {
		text = "requested on the device (agent cert rotate)"
	}
	file := cfg.RotationRequestFile()
	if err := atomicfile.WriteFile(file, []byte(text+"\n")); err != nil {
		fmt.Fprintln(stderr, "agent:", err)
		return exitError
	}
	fmt.Fprintf(stdout, "asked the agent to renew its certificate (%s); it starts within seconds: see its log, or getDeviceState's certificate.renewal\n", file)
	return exitOK
}
