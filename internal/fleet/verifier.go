package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"

	"github.com/iot-hub/agent/contracts"
)

// verifier is an MQTT client subscribed to every gateway's telemetry,
// QoS 1, with a session the broker keeps: what it receives goes into the
// ledger.
type verifier struct {
	cm         *autopaho.ConnectionManager
	cancel     context.CancelFunc
	subscribed chan struct{}
	once       atomic.Bool
}

// telemetryFilter is every gateway's v1 telemetry topic.
const telemetryFilter = contracts.MQTTTopicPrefix + "+/telemetry"

// startVerifier connects the verifier to brokerURL and returns once it
// is subscribed.
func startVerifier(brokerURL string, l *ledger) (*verifier, error) {
	u, err := url.Parse(brokerURL)
	if err != nil {
		return nil, err
	}
	v := &verifier{subscribed: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	v.cancel = cancel
	v.cm, err = autopaho.NewConnection(ctx, autopaho.ClientConfig{
		ServerUrls: []*url.URL{u},
		KeepAlive:  30,
		// Clean start false from the first connection: mosquitto does not
		// save the session of a client that connected with clean start,
		// expiry or not, and after the kill would drop what the gateways
		// publish before the verifier is back (PUBACK reason 0x10, no
		// matching subscribers). The broker is new, so is the session.
		CleanStartOnInitialConnection: false,
		SessionExpiryInterval:         3600,
		ReconnectBackoff:              autopaho.NewConstantBackoff(50 * time.Millisecond),
		ConnectTimeout:                5 * time.Second,
		OnConnectionUp: func(cm *autopaho.ConnectionManager, connack *paho.Connack) {
			if connack.SessionPresent && v.once.Load() {
				return // the broker kept the subscription
			}
			go v.subscribe(cm)
		},
		ClientConfig: paho.ClientConfig{
			ClientID: "fleet-verifier",
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
				var env struct {
					CorrelationID string `json:"correlationId"`
				}
				if json.Unmarshal(pr.Packet.Payload, &env) == nil && env.CorrelationID != "" {
					l.delivered(env.CorrelationID)
				}
				return true, nil
			}},
		},
	})
	if err != nil {
		cancel()
		return nil, err
	}
	select {
	case <-v.subscribed:
		return v, nil
	case <-time.After(10 * time.Second):
		v.stop()
		return nil, fmt.Errorf("verifier: not subscribed to %s within 10 s", telemetryFilter)
	}
}

func (v *verifier) subscribe(cm *autopaho.ConnectionManager) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	suback, err := cm.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: telemetryFilter, QoS: 1}}})
	if err != nil || len(suback.Reasons) == 0 || suback.Reasons[0] >= 0x80 {
		return // the next connection tries again
	}
	if v.once.CompareAndSwap(false, true) {
		close(v.subscribed)
	}
}

func (v *verifier) stop() {
	v.cancel()
	<-v.cm.Done()
}
