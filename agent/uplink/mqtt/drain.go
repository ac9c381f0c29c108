package mqtt

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"

	"github.com/iot-hub/agent/agent/outbox"
)

// drain publishes what the outbox hands out, keeping up to Window
// publishes awaiting their PUBACK, until ctx ends; then it waits (up to
// ConnectTimeout) for those in flight.
func (u *Uplink) drain(ctx context.Context, cm *autopaho.ConnectionManager) {
	slots := make(chan struct{}, u.cfg.Window)
	defer func() {
		// Wait for the publishes in flight: their results ack or release
		// their records.
		deadline := time.After(u.cfg.ConnectTimeout)
		for range u.cfg.Window {
			select {
			case slots <- struct{}{}:
			case <-deadline:
				u.log.Warn("mqtt: stopped before every publish was acknowledged; they are sent again on the next start")
				return
			}
		}
	}()
	for {
		if err := cm.AwaitConnection(ctx); err != nil {
			return
		}
		select { // one free slot at least
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		n := 1
		for n < u.cfg.Window {
			select {
			case slots <- struct{}{}:
				n++
				continue
			default:
			}
			break
		}
		entries, err := u.box.Next(ctx, n)
		for range n - len(entries) {
			<-slots
		}
		if err != nil {
			if ctx.Err() == nil {
				u.log.Error("mqtt: outbox", "err", err)
			}
			return
		}
		u.addInFlight(len(entries))
		for _, e := range entries {
			go func() {
				defer func() { <-slots; u.addInFlight(-1) }()
				u.publish(ctx, cm, e)
			}()
		}
	}
}

func (u *Uplink) addInFlight(n int) {
	u.mu.Lock()
	u.state.InFlight += n
	u.mu.Unlock()
}

// publish sends one entry at QoS 1 and settles it in the outbox: Ack after
// the PUBACK, Quarantine when the broker refuses it for good, Release
// otherwise (the connection went, the broker is busy).
func (u *Uplink) publish(ctx context.Context, cm *autopaho.ConnectionManager, e outbox.Entry) {
	p := &paho.Publish{QoS: 1, Topic: e.Topic, Payload: e.Payload, Retain: e.Retain, Properties: &paho.PublishProperties{}}
	for _, h := range e.Headers {
		switch h.Key {
		case HeaderCorrelationData:
			p.Properties.CorrelationData = h.Value
		case HeaderContentType:
			p.Properties.ContentType = string(h.Value)
		default:
			p.Properties.User.Add(h.Key, string(h.Value))
		}
	}
	if !e.Expiry.IsZero() {
		left := time.Until(e.Expiry)
		if left <= 0 {
			u.box.Release(e.ID) // the outbox drops it as expired next time
			return
		}
		secs := uint32(max(left/time.Second, 1))
		p.Properties.MessageExpiry = &secs
	}
	// The publish outlives ctx: stopping waits for in-flight PUBACKs.
	pubCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), u.cfg.ConnectTimeout)
	defer cancel()
	resp, err := cm.Publish(pubCtx, p)
	switch {
	case err == nil:
		u.box.Ack(e.ID)
	case resp != nil && permanent(resp.ReasonCode):
		reason := fmt.Sprintf("broker refused the publish: reason code 0x%02x", resp.ReasonCode)
		if resp.Properties != nil && resp.Properties.ReasonString != "" {
			reason += ": " + resp.Properties.ReasonString
		}
		if qerr := u.box.Quarantine(e.ID, reason); qerr != nil {
			u.log.Error("mqtt: quarantine", "id", e.ID, "err", qerr)
		}
		u.log.Error("mqtt: publish refused for good; record quarantined", "topic", e.Topic, "reasonCode", resp.ReasonCode)
	default:
		u.box.Release(e.ID)
		if !errors.Is(err, context.Canceled) {
			u.log.Debug("mqtt: publish not acknowledged; it will be sent again", "topic", e.Topic, "err", err)
		}
	}
}

// permanent reports whether a PUBACK reason code refuses the message
// itself, so retrying cannot help: not authorized (0x87), topic name
// invalid (0x90), packet too large (0x95), payload format invalid (0x99).
// Other failures (unspecified 0x80, quota exceeded 0x97, a lost
// connection) are retried.
func permanent(code byte) bool {
	switch code {
	case 0x87, 0x90, 0x95, 0x99:
		return true
	}
	return false
}
