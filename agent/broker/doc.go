// Package broker is the MQTT broker the agent can run inside itself, for
// a single gateway that has no broker to talk to: a demo, a lab bench, or
// a site whose local consumers subscribe on the gateway itself. It is
// github.com/mochi-mqtt/server/v2 with one TCP listener.
//
// [Start] listens and serves; [Broker.Close] disconnects every client and
// stops. The daemon starts it before the uplink and closes it after the
// uplink has stopped, so that the uplink's offline status (its Last Will,
// retained) reaches the subscribers.
//
// # Caveats
//
//   - Every client is accepted, without authentication, and may publish and
//     subscribe to every topic: listen on a loopback or trusted address
//     only (the default is 127.0.0.1:1883).
//   - Nothing is persisted: retained messages and sessions are lost when
//     the agent stops. The agent's own messages wait in its outbox, not in
//     the broker.
//   - mochi's log lines go to the given logger at warn level and above;
//     the rest (connections, sessions) only when that logger is enabled at
//     debug level. Packets are never logged, so neither are payloads.
package broker
