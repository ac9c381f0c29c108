package mqtt

import (
	"context"
	"fmt"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"

	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/agent/uplink/status"
	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/contracts/legacy"
)

// The device's status on the status topic, retained, numbered by
// connection (see package status for the rule a consumer applies):
//
//   - every CONNECT carries its own Last Will, an offline "connection
//     lost" with the connection's number: the broker publishes it when
//     the connection ends without a clean stop;
//   - once connected, the uplink queues the online "connected" of that
//     number;
//   - a clean stop publishes the offline "stopped" of that number and
//     disconnects normally, so the broker drops the Will.
//
// A number is taken, and stored in the outbox, for the first attempt
// after a dial that reached the broker: attempts that reach nothing reuse
// it, so a broker away for a day costs no writes; an attempt whose
// CONNECT may have gone out never lends its number to another, as the
// broker may publish its Will.

// willFor gives the CONNECT of an attempt its Last Will.
func (u *Uplink) willFor(c *paho.Connect) error {
	u.mu.Lock()
	n, dialed := u.connection, u.dialed
	u.mu.Unlock()
	if n == 0 || dialed {
		ctx, cancel := context.WithTimeout(context.Background(), u.cfg.ConnectTimeout)
		defer cancel()
		var err error
		if n, err = status.NextConnection(ctx, u.box); err != nil {
			return fmt.Errorf("mqtt: %w", err)
		}
		u.mu.Lock()
		u.connection, u.dialed = n, false
		u.mu.Unlock()
	}
	// One Will per CONNECT: with ProtocolDual, the v1 one.
	will, err := u.statuses(contracts.DeviceOffline, status.ReasonConnectionLost, n)
	if err != nil {
		return err
	}
	c.WillMessage = &paho.WillMessage{Topic: will[0].topic, Payload: will[0].payload, QoS: 1, Retain: true}
	c.WillProperties = &paho.WillProperties{ContentType: "application/json"}
	return nil
}

// queueOnline queues the online status of connection n.
func (u *Uplink) queueOnline(ctx context.Context, n uint64) error {
	online, err := u.status(contracts.DeviceOnline, status.ReasonConnected, n)
	if err != nil {
		return err
	}
	return u.box.Append(ctx, outbox.Record{Lane: outbox.LaneControl, Topic: u.topics.Status, Key: []byte(u.cfg.DeviceID),
		Payload: online, Retain: true, Headers: []outbox.Header{{Key: HeaderContentType, Value: []byte("application/json")}}})
}

// publishStopped publishes the offline "stopped" of the current
// connection, in each format of the protocol, and reports whether the
// broker acknowledged them all; then the Will is not needed. Call it only
// once the queue publishes nothing more.
func (u *Uplink) publishStopped(ctx context.Context, cm *autopaho.ConnectionManager) bool {
	u.mu.Lock()
	n, up := u.connection, u.state.Connected
	u.mu.Unlock()
	if !up {
		return false // the broker published the Will when the connection ended
	}
	msgs, err := u.statuses(contracts.DeviceOffline, status.ReasonStopped, n)
	for _, m := range msgs {
		if err != nil {
			break
		}
		_, err = cm.Publish(ctx, &paho.Publish{Topic: m.topic, Payload: m.payload, QoS: 1, Retain: true,
			Properties: &paho.PublishProperties{ContentType: "application/json"}})
	}
	if err != nil {
		u.log.Warn("mqtt: publish the stopped status; the broker publishes the Last Will instead", "err", err)
		return false
	}
	return true
}

// status encodes a device.status.changed event of this device.
func (u *Uplink) status(s contracts.DeviceStatus, reason string, connection uint64) ([]byte, error) {
	b, err := contracts.Encode(status.Event(u.cfg.DeviceID, s, reason, connection))
	if err != nil {
		return nil, fmt.Errorf("mqtt: status: %w", err)
	}
	return b, nil
}

// statusMessage is the device's status in one format, and its topic.
type statusMessage struct {
	topic   string
	payload []byte
}

// statuses returns a status of this device as the protocol publishes
// it, the v1 form first: in v1 with ProtocolV1, in the legacy format
// (which has no connection number) with ProtocolLegacy, in both with
// ProtocolDual.
func (u *Uplink) statuses(s contracts.DeviceStatus, reason string, connection uint64) ([]statusMessage, error) {
	m := status.Event(u.cfg.DeviceID, s, reason, connection)
	var msgs []statusMessage
	if u.cfg.Protocol != ProtocolLegacy {
		b, err := contracts.Encode(m)
		if err != nil {
			return nil, fmt.Errorf("mqtt: status: %w", err)
		}
		msgs = append(msgs, statusMessage{u.topics.Status, b})
	}
	if u.cfg.Protocol != ProtocolV1 {
		b, err := legacy.EncodeStatusChanged(m)
		if err != nil {
			return nil, fmt.Errorf("mqtt: status: %w", err)
		}
		msgs = append(msgs, statusMessage{u.legacy.Status, b})
	}
	return msgs, nil
}
