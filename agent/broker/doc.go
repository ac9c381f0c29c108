// Package broker is the MQTT broker the agent can run inside itself, for
// a single gateway that has no broker to talk to: a demo, a lab bench, or
// a site whose local consumers subscribe on the gateway itself. It is
// github.com/mochi-mqtt/server/v2 with one TCP listener, plain or TLS.
//
// [Start] listens and serves; [Broker.Close] disconnects every client and
// stops. [Settings], in Config, are the keys of the agent's configuration
// file that enable it and say where it listens (uplink.mqtt.embeddedBroker). The daemon starts it before the uplink and closes it after the
// uplink has stopped, so that the uplink's offline status (its Last Will,
// retained) reaches the subscribers.
//
// # Caveats
//
//   - Without Settings.Users every client is accepted, without
//     authentication, and may publish and subscribe to every topic:
//     listen on a loopback or trusted address only (the default is
//     127.0.0.1:1883). With them, only those users are, each by its
//     password (compared in constant time), publishing and subscribing
//     within its own topic filters (users.go); the agent's own uplink
//     must then be one of them.
//   - With Settings.TLS the listener serves TLS 1.2 or 1.3 (tls.go); with
//     its ClientCAFile too, every client must present a certificate that
//     chains to those CAs, or the handshake fails, password users
//     included. A client that then sends no password is the certificate
//     user (User.CertificateCN) named by its certificate's Subject CN,
//     or is refused (CONNACK 0x86, mochi's code for every refusal); one
//     that sends a password is the password user it names, or refused.
//     The files are read by Start: a renewed broker certificate takes a
//     restart. Revocation lists are not checked.
//   - With Settings.Integrate, the messages of its clients on chosen
//     topics go to Config.OnMessage before the broker acknowledges them
//     (hook.go), each client within a rate and a size, and all clients
//     together within a total rate; those on its LegacyTelemetry filters
//     are marked to be adapted. [Broker.Stats] counts what became of
//     them ([Outcome]), in all and for each client (the latest
//     [MaxClientStats] seen).
//   - Nothing is persisted: retained messages and sessions are lost when
//     the agent stops. The agent's own messages wait in its outbox, not in
//     the broker.
//   - A message larger than a client's Maximum Packet Size (the agent's
//     uplink sets one: see its package) is dropped for that client, as
//     MQTT v5 wants; mochi v2.7.9 alone would keep it in the session and
//     close every later connection that resumes it (toolarge.go). The
//     broker itself still reads such a message whole from its publisher,
//     in the agent's process: it sets no limit of its own.
//   - mochi's log lines go to the given logger at warn level and above;
//     the rest (connections, sessions) only when that logger is enabled at
//     debug level. Packets are never logged, so neither are payloads.
//     Each kind of line (its level and message) is written once a minute
//     at most, the next saying how many were suppressed: clients cannot
//     flood the journal.
package broker
