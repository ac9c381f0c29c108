package rpc

import (
	"context"
	"crypto/x509"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/iot-hub/agent/agent/binding"
	"github.com/iot-hub/agent/agent/broker"
	"github.com/iot-hub/agent/agent/certs"
	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/agent/sensors"
	"github.com/iot-hub/agent/agent/uplink"
	"github.com/iot-hub/agent/contracts"
)

// methods is every method the agent answers. Adding one is a line here,
// its name in the contract (contracts.Method), and its file.
func methods(deps Deps, cfg Config, audit auditor) map[contracts.Method]Method {
	all := map[contracts.Method]Method{
		contracts.MethodGetDeviceState: deviceState{deps: deps, deviceID: cfg.DeviceID, now: cfg.Clock.Now}.run,
		contracts.MethodGetSensors:     getSensors{sensors: deps.Sensors, broker: deps.Broker}.run,
		contracts.MethodGetLogs:        getLogs{logs: deps.Logs}.run,
		contracts.MethodGetConfig:      getConfig{config: deps.Config}.run,
		contracts.MethodRestartAgent:   restartAgent{restart: deps.Restart, audit: audit}.run,
		contracts.MethodSetConfig:      setConfig{plan: deps.SetConfig, audit: audit}.run,
		contracts.MethodUpdateAgent:    updateAgent{start: deps.Update, audit: audit}.run,
	}
	for _, m := range cfg.Disable {
		delete(all, m)
	}
	return all
}

// Deps are what the methods read, and the handlers of the other messages
// a commands topic carries. A nil func or interface means the agent has
// no such part; the methods leave it out of their results.
type Deps struct {
	// Version is the agent's version.
	Version string
	// Slot is the binary that runs: "packaged", or the update slot "a"
	// or "b" (agent/update); empty leaves it out.
	Slot string
	// StateDir is the agent's state directory, whose disk is reported.
	StateDir string
	// Started is when the agent started.
	Started time.Time
	// Uplink reports the uplink's connection.
	Uplink func() uplink.State
	// Outbox reports the outbox.
	Outbox func() outbox.Stats
	// Migration reports the migration phase and each uplink's share,
	// when the agent runs MQTT and Kafka together; nil otherwise.
	Migration func() Migration
	// Sensors are the sampler's sensors.
	Sensors Sensors
	// Certificate is the client certificate the uplink presents; nil when
	// it presents none.
	Certificate func() *x509.Certificate
	// Broker reports the embedded broker's clients and what became of
	// their messages: getDeviceState sums them up, getSensors gives
	// each device that published on its integrate topics an entry; nil
	// when the agent runs no embedded broker.
	Broker func() broker.Stats
	// Renewal reports the certificate's renewal (the rotator's Status);
	// nil when the agent does not renew it.
	Renewal func() certs.Status
	// Config returns the configuration the agent runs with, secrets
	// masked, as a JSON object, for getConfig; nil: getConfig answers an
	// empty object.
	Config func() (jsontext.Value, error)
	// Binding reports the gateway's binding to a user (device.bound,
	// device.unbound), for getDeviceState; nil leaves it out.
	Binding func() binding.Status
	// Restart has the agent stop cleanly, for its supervisor (systemd's
	// Restart=always) to start it again, once the command's answer is
	// out; reason is the command's, for the log. Nil: restartAgent fails
	// INTERNAL, saying the agent cannot restart itself.
	Restart func(reason string)
	// SetConfig makes a plan of a setConfig request: the new
	// configuration validated, ready to keep on trial; a configuration
	// that is not valid is a *Refused naming the fields. Nil:
	// setConfig fails INTERNAL.
	SetConfig func(ctx context.Context, req ConfigChange) (ConfigPlan, error)
	// Update starts installing the binary an updateAgent names, in the
	// background, once the request is audited; a request it will not
	// carry out is a *Refused. Nil: updateAgent is off (no key pinned).
	Update func(ctx context.Context, req UpdateRequest) error
	// Logs are the agent's latest log lines, for getLogs; nil: the agent
	// keeps none, and getLogs answers none.
	Logs Logs
	// Events handle the messages that are not RPCs, by type (the
	// certificate rotation's). A type without a handler is refused as
	// not a command this device runs.
	Events map[contracts.EventType]EventHandler
}

// Sensors is what getSensors and getDeviceState need of the sampler.
type Sensors interface {
	Status(names ...string) ([]sensors.Status, error)
	ReadNow(ctx context.Context, names ...string) ([]sensors.Status, error)
}
