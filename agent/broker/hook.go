package broker

import (
	"bytes"
	"fmt"
	"sync"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// integrateHook hands the messages on Integrate's topics to onMessage,
// each client within its rate and all within the total, before the
// broker acknowledges them: a message onMessage fails to keep is answered
// with an error code, for the device to send again (MQTT v5, QoS 1 and
// 2), and not passed on. It runs on the publishing client's goroutine:
// an onMessage that waits holds back that client only.
type integrateHook struct {
	mochi.HookBase
	cfg       Integrate
	onMessage func(Message) (Outcome, error)
	now       func() time.Time

	mu      sync.Mutex
	total   *bucket            // every client's
	buckets map[string]*bucket // each connected client's
	tally   tally
}

func newIntegrateHook(cfg Integrate, onMessage func(Message) (Outcome, error), now func() time.Time) *integrateHook {
	return &integrateHook{cfg: cfg, onMessage: onMessage, now: now, total: newBucket(cfg.RateTotal, cfg.BurstTotal, now()),
		buckets: map[string]*bucket{}, tally: tally{clients: map[string]*ClientStats{}}}
}

// ID names the hook.
func (h *integrateHook) ID() string { return "iot-hub-integrate" }

// Provides says which events the hook answers.
func (h *integrateHook) Provides(b byte) bool {
	return bytes.Contains([]byte{mochi.OnPublish, mochi.OnDisconnect}, []byte{b})
}

// OnPublish takes a client's message on one of the topics, after the
// broker's ACL check and before its acknowledgement. A message left out
// (too large, over a rate) goes on to the broker's subscribers.
func (h *integrateHook) OnPublish(cl *mochi.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline {
		return pk, nil
	}
	legacy, ok := h.wanted(pk.TopicName)
	if !ok {
		return pk, nil
	}
	now := h.now()
	if o, problem := h.admit(cl.ID, len(pk.Payload), now); o != Taken {
		h.count(cl.ID, now, o, problem)
		return pk, nil
	}
	o, err := h.onMessage(Message{Client: cl.ID, Topic: pk.TopicName, Payload: pk.Payload, QoS: pk.FixedHeader.Qos, ReceivedAt: now, Legacy: legacy})
	switch {
	case err != nil && o == Unadapted:
		h.count(cl.ID, now, o, err.Error())
	case err != nil:
		h.count(cl.ID, now, Failed, err.Error())
		return pk, packets.ErrImplementationSpecificError
	default:
		h.count(cl.ID, now, o, "")
	}
	return pk, nil
}

// wanted reports whether topic is within one of the filters, and
// whether that is one of LegacyTelemetry's.
func (h *integrateHook) wanted(topic string) (legacy, ok bool) {
	for _, f := range h.cfg.LegacyTelemetry {
		if within(topic, f) {
			return true, true
		}
	}
	for _, f := range h.cfg.Topics {
		if within(topic, f) {
			return false, true
		}
	}
	return false, false
}

// admit takes a token of client's bucket and of the total one, and
// returns Taken; or, for a message left out, why.
func (h *integrateHook) admit(client string, size int, now time.Time) (Outcome, string) {
	if size > int(h.cfg.MaxMessageBytes) {
		return TooLarge, fmt.Sprintf("a message of %d bytes, above maxMessageBytes (%d)", size, int64(h.cfg.MaxMessageBytes))
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	b, ok := h.buckets[client]
	if !ok {
		b = newBucket(h.cfg.RatePerClient, h.cfg.BurstPerClient, now)
		h.buckets[client] = b
	}
	switch {
	case !b.has(now):
		return OverRate, fmt.Sprintf("beyond ratePerClient (%v a second, bursts of %d)", h.cfg.RatePerClient, h.cfg.BurstPerClient)
	case !h.total.has(now):
		return OverTotal, fmt.Sprintf("beyond rateTotal of all clients (%v a second, bursts of %d)", h.cfg.RateTotal, h.cfg.BurstTotal)
	}
	b.take()
	h.total.take()
	return Taken, ""
}

// count counts the outcome of a message.
func (h *integrateHook) count(client string, now time.Time, o Outcome, problem string) {
	h.mu.Lock()
	h.tally.add(client, now, o, problem)
	h.mu.Unlock()
}

// OnDisconnect forgets the client's bucket: a client that reconnects
// starts with a burst again, which its connection's cost and the total
// bucket bound.
func (h *integrateHook) OnDisconnect(cl *mochi.Client, _ error, _ bool) {
	h.mu.Lock()
	delete(h.buckets, cl.ID)
	h.mu.Unlock()
}

// stats returns the counts; connected reports whether a client is
// connected.
func (h *integrateHook) stats(connected func(id string) bool) Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.tally.stats(connected)
}
