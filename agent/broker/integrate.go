package broker

import (
	"bytes"
	"fmt"
	"sync"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/iot-hub/agent/internal/confkeys"
)

// Integrate says which messages of the broker's clients become the
// agent's integration.mqtt.received events, and how many a client may
// make: a device that floods is cut to its rate, so that it neither
// starves the gateway's own telemetry nor fills the outbox.
type Integrate struct {
	// Topics are the MQTT topic filters whose messages are taken.
	// Default: none, nothing is taken.
	Topics []string `yaml:"topics,omitempty"`
	// MaxMessageBytes bounds a message taken; larger ones are left out
	// and counted. Default 64KiB; 1B to 1MiB.
	MaxMessageBytes confkeys.Size `yaml:"maxMessageBytes,omitempty" limit:"1B..1MiB"`
	// RatePerClient is how many messages a second a client's may become
	// events, with bursts of BurstPerClient; the rest are left out and
	// counted. Defaults 10 and 20.
	RatePerClient  float64 `yaml:"ratePerClient,omitempty"`
	BurstPerClient int     `yaml:"burstPerClient,omitempty" limit:"1..10000"`
}

// Defaults of Integrate.
const (
	DefaultMaxMessageBytes = 64 << 10
	DefaultRatePerClient   = 10
	DefaultBurstPerClient  = 20
)

// setDefaults fills in the keys left out of in.
func (in *Integrate) setDefaults() {
	confkeys.SetDefault(&in.MaxMessageBytes, DefaultMaxMessageBytes)
	confkeys.SetDefault(&in.RatePerClient, DefaultRatePerClient)
	confkeys.SetDefault(&in.BurstPerClient, DefaultBurstPerClient)
}

// validate reports the first key of in, defaults filled in, that is
// wrong; with no topics, nothing is taken and nothing checked.
func (in Integrate) validate() error {
	if len(in.Topics) == 0 {
		return nil
	}
	for i, f := range in.Topics {
		if err := checkFilter(f); err != nil {
			return confkeys.Invalid(fmt.Sprintf("integrate.topics[%d]", i), "%q: %v", f, err)
		}
	}
	if in.RatePerClient <= 0 || in.RatePerClient > 10000 {
		return confkeys.Invalid("integrate.ratePerClient", "%v is outside (0, 10000]", in.RatePerClient)
	}
	return nil
}

// Message is a client's message the broker hands to OnMessage.
type Message struct {
	Client     string
	Topic      string
	Payload    []byte // the broker's: copy it to keep it
	QoS        byte
	ReceivedAt time.Time
}

// IntegrateStats count the messages taken, left out, and those
// OnMessage failed to keep.
type IntegrateStats struct {
	Taken, TooLarge, OverRate, Failed uint64
}

// integrateHook hands the messages on Integrate's topics to onMessage,
// each client within its rate, before the broker acknowledges them: a
// message onMessage fails to keep is answered with an error code, for
// the device to send again (MQTT v5, QoS 1 and 2), and not passed on. It
// runs on the publishing client's goroutine: an onMessage that waits
// holds back that client only.
type integrateHook struct {
	mochi.HookBase
	cfg       Integrate
	onMessage func(Message) error
	now       func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
	stats   IntegrateStats
}

// bucket is a client's token bucket.
type bucket struct {
	tokens float64
	at     time.Time
}

// ID names the hook.
func (h *integrateHook) ID() string { return "iot-hub-integrate" }

// Provides says which events the hook answers.
func (h *integrateHook) Provides(b byte) bool {
	return bytes.Contains([]byte{mochi.OnPublish, mochi.OnDisconnect}, []byte{b})
}

// OnPublish takes a client's message on one of the topics, after the
// broker's ACL check and before its acknowledgement. A message left out
// (too large, over the rate) goes on to the broker's subscribers.
func (h *integrateHook) OnPublish(cl *mochi.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline || !h.wanted(pk.TopicName) {
		return pk, nil
	}
	now := h.now()
	h.mu.Lock()
	switch {
	case len(pk.Payload) > int(h.cfg.MaxMessageBytes):
		h.stats.TooLarge++
		h.mu.Unlock()
		return pk, nil
	case !h.takeLocked(cl.ID, now):
		h.stats.OverRate++
		h.mu.Unlock()
		return pk, nil
	}
	h.mu.Unlock()
	if err := h.onMessage(Message{Client: cl.ID, Topic: pk.TopicName, Payload: pk.Payload, QoS: pk.FixedHeader.Qos, ReceivedAt: now}); err != nil {
		h.mu.Lock()
		h.stats.Failed++
		h.mu.Unlock()
		return pk, packets.ErrImplementationSpecificError
	}
	h.mu.Lock()
	h.stats.Taken++
	h.mu.Unlock()
	return pk, nil
}

// wanted reports whether topic is within one of the filters.
func (h *integrateHook) wanted(topic string) bool {
	for _, f := range h.cfg.Topics {
		if within(topic, f) {
			return true
		}
	}
	return false
}

// takeLocked takes a token of client's bucket, refilled at the rate.
func (h *integrateHook) takeLocked(client string, now time.Time) bool {
	b, ok := h.buckets[client]
	if !ok {
		b = &bucket{tokens: float64(h.cfg.BurstPerClient), at: now}
		h.buckets[client] = b
	}
	b.tokens = min(float64(h.cfg.BurstPerClient), b.tokens+now.Sub(b.at).Seconds()*h.cfg.RatePerClient)
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// OnDisconnect forgets the client's bucket: a client that reconnects
// starts with a burst again, which its connection's cost bounds.
func (h *integrateHook) OnDisconnect(cl *mochi.Client, _ error, _ bool) {
	h.mu.Lock()
	delete(h.buckets, cl.ID)
	h.mu.Unlock()
}

// Stats returns the counts.
func (h *integrateHook) Stats() IntegrateStats {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.stats
}
