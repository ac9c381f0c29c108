package mqtt

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/eclipse/paho.golang/packets"
)

// hurriedWait is the longest wait between connection attempts from a
// Reconnect call until the next successful connection: the waits are
// drawn from [0, hurriedWait] by the same full jitter as the others.
const hurriedWait = time.Second

// dropTimeout bounds how long Reconnect waits for the connection to take
// its DISCONNECT before it closes it anyway.
const dropTimeout = time.Second

// errSuperseded fails a connection attempt that began before a Reconnect
// call: it may present the certificate Reconnect means to replace.
var errSuperseded = errors.New("mqtt: connection attempt superseded by Reconnect")

// disconnectPacket is a DISCONNECT with reason 0x00 (normal): the broker
// keeps the session and does not publish the Will.
var disconnectPacket = func() []byte {
	var b bytes.Buffer
	if _, err := (&packets.Disconnect{ReasonCode: 0}).WriteTo(&b); err != nil {
		panic(err) // writing to a bytes.Buffer does not fail
	}
	return b.Bytes()
}()

// Reconnect drops the current connection so that the uplink connects
// again at once, with a fresh TLS handshake and so a fresh call of
// Config.Certificates; a connection attempt under way is abandoned for a
// new one. The dropped connection ends with a normal DISCONNECT, so the
// broker keeps the session and publishes no offline Last Will. From the
// call until the next successful connection, attempts wait at most 1 s
// between them (instead of the backoff up to BackoffMax): a certificate
// rotation that tries a new certificate and rolls back to the old one is
// online again within seconds. If nothing is connected, Reconnect ends the
// wait for the next attempt. It returns without waiting for the new
// connection (watch Config.OnConnect), after at most about a second.
func (u *Uplink) Reconnect() {
	u.mu.Lock()
	u.hurry = true
	u.redials++
	c, connected := u.conn, u.state.Connected
	u.mu.Unlock()
	select {
	case u.kick <- struct{}{}:
	default: // one is pending already
	}
	if c == nil {
		return
	}
	if connected {
		c.closeWith(disconnectPacket, dropTimeout)
	} else {
		c.Close() // dialed, not yet accepted: there is no session to end
	}
	u.log.Info("mqtt: reconnecting on request", "broker", u.cfg.Broker)
}

// waitBackoff returns autopaho's ReconnectBackoff. Instead of returning
// the wait for autopaho to sleep through, it waits itself and returns 0,
// so that Reconnect can end the wait early: autopaho calls it in its
// connecting goroutine right before it would sleep. When ctx (Run's) ends
// it returns the wait, so that autopaho sleeps it out on its own context,
// which ends with the shutdown.
func (u *Uplink) waitBackoff(ctx context.Context) func(int) time.Duration {
	normal := reconnectBackoff(u.cfg.BackoffMin, u.cfg.BackoffMax, rand.Float64)
	hurried := reconnectBackoff(min(u.cfg.BackoffMin, hurriedWait), min(u.cfg.BackoffMax, hurriedWait), rand.Float64)
	return func(n int) time.Duration {
		u.mu.Lock()
		hurry := u.hurry
		u.mu.Unlock()
		d := normal(n)
		if hurry {
			d = hurried(n)
		}
		if d <= 0 {
			return 0
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return 0
		case <-u.kick:
			return 0
		case <-ctx.Done():
			return d
		}
	}
}
