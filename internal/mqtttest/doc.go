// Package mqtttest runs a real MQTT broker for tests: Debian's mosquitto,
// started as a child process of the test on a free loopback port, with its
// own configuration, log, certificates and persistence file in t.TempDir().
//
// A test starts one with [Start] and talks to it through [Broker.URL] (or
// [Broker.Addr]); [Broker.Subscribe] gives a subscriber that records what
// arrives, and [Broker.Publish] sends commands. Every broker and client is
// stopped by t.Cleanup, so a test needs no teardown of its own.
//
//	b := mqtttest.Start(t, mqtttest.Options{Persistence: true})
//	sub := b.Subscribe(t, "gw/+/telemetry", 1)
//	// ... run the uplink against b.URL() ...
//	msgs := sub.WaitFor(t, 10, 5*time.Second)
//
// # Finding mosquitto
//
// The binary is looked up in this order:
//
//   - MQTTTEST_MOSQUITTO, when that environment variable is non-empty: the
//     path of the binary to run, and nothing else is tried. A path that does
//     not exist (MQTTTEST_MOSQUITTO=/nonexistent) makes the package behave as
//     if mosquitto were not installed, which is how the fallback below is
//     tested.
//   - "mosquitto" on PATH (exec.LookPath).
//   - /usr/sbin/mosquitto and /usr/local/sbin/mosquitto: Debian installs it in
//     /usr/sbin, which is often not on a user's PATH.
//
// Installing Debian's package does not start a broker that tests would use:
// each test starts its own. .ci/run installs the package (APT_PACKAGES).
// A test that runs one of mosquitto-clients (mosquitto_pub, mosquitto_rr)
// finds it with [LookClient], which skips the test without it, or fails it
// when CI is set.
//
// # Without mosquitto
//
// When the binary is not found and the environment variable CI is set
// (non-empty), [Start] fails the test: CI must exercise the real broker, and a
// missing package there is a broken set-up, not a reason to test something
// else. Elsewhere (a developer machine without the package) [Start] runs an
// embedded broker instead, github.com/mochi-mqtt/server/v2 with one TCP
// listener (TLS when [Options.TLS]) and its allow-all auth hook, and logs
// "mosquitto not found: using the embedded mochi-mqtt broker". The listener
// is a small replacement for mochi's listeners.TCP that lets the broker
// close without a data race: mochi v2.7.9 registers a new connection with a
// sync.WaitGroup that Server.Close waits on, so a client connecting while
// the server closes trips the race detector.
// [Broker.Embedded] tells which one runs. The embedded broker differs:
//
//   - it has no persistence: [Broker.Restart] and [Broker.Kill] lose the
//     retained messages and every session. Tests that need persistence across
//     a restart call [Broker.RequirePersistence], which fails the test in CI
//     and otherwise returns false so that the test can adapt (it must not
//     skip: a skipped test would count as passing);
//   - [Broker.Kill] is the same as [Broker.Stop]: clients are sent a DISCONNECT
//     (server shutting down) rather than losing the socket abruptly;
//   - it stores at most 65535 unacknowledged QoS 1/2 messages per client
//     (mochi's limit) and drops more;
//   - it acknowledges a QoS 1 PUBLISH before it has queued the message for
//     the subscribers, so a message published just before a subscriber
//     reconnects to its session can be lost (seen once in 10,000 with
//     -race).
//
// # Configuration and caveats
//
// The mosquitto.conf that [Start] writes (see [Broker.ConfigFile]) has:
//
//   - one listener on 127.0.0.1 and a port found by binding 127.0.0.1:0 and
//     closing it. Another process can take the port before mosquitto binds
//     it; Start then retries with another port. [Broker.Restart] reuses the
//     port and retries for a while if it is briefly taken.
//   - allow_anonymous true, except with [Options.RequireClientCert], where
//     the client certificate is the identity (require_certificate true,
//     use_identity_as_username true, allow_anonymous false), and after
//     [Broker.Revoke] the CRL (crlfile).
//   - max_inflight_messages 0 (no limit beyond the client's Receive Maximum)
//     and max_queued_messages 1000000, so that tests publishing ten thousand
//     QoS 1 messages, or queueing them for an offline session, are neither
//     throttled nor dropped (mosquitto's defaults are 20 and 1000).
//   - with [Options.Persistence]: persistence true, the database in the temp
//     dir ([Broker.PersistenceFile]) and autosave_interval 1, so that it is
//     written about once a second. mosquitto writes it only then and on a
//     clean stop: what reached the broker after the last save is lost by
//     [Broker.Kill], exactly as in a real crash: mosquitto acknowledges a QoS
//     1 PUBLISH before it is on disk. Call [Broker.Checkpoint] before Kill
//     for a deterministic test. [Broker.Subscribe] and [Broker.Restart]
//     checkpoint by themselves, so that the helper subscribers' sessions
//     always survive a Kill.
//   - user root when the test runs as root: mosquitto would otherwise switch
//     to the "mosquitto" user, which cannot write to the test's temp dir.
//     mosquitto then prints a warning that it runs as root; it is harmless.
//   - log_dest file with error, warning, notice and information messages
//     (connections, saves; not every PUBLISH) in [Broker.LogFile]; mosquitto's
//     own stdout and stderr go there too. When the test fails, the tail of
//     that log is written to the test log.
//
// With [Options.TLS], Start generates a CA, a server certificate for
// 127.0.0.1 and localhost and a client certificate (CN [Options.ClientCN],
// "gw-test" by default), all ECDSA P-256, writes them as PEM files to the temp
// dir and configures TLS 1.2 as the minimum version. [Broker.TLSConfig]
// returns a client configuration that trusts the CA and presents the client
// certificate, and [Broker.CAPool] the CA alone. [Broker.SignClientCert]
// signs more client certificates (random serials) with the CA, for tests of
// certificate rotation; [Broker.Revoke] makes the broker refuse some of
// them. For mosquitto, Revoke writes a CRL signed by the CA
// ([Broker.CRLFile]), adds "crlfile" to the listener (mosquitto honours it
// with require_certificate) and restarts mosquitto on the same port, since
// it reads the CRL only at start-up: every client is disconnected once. The
// embedded broker instead refuses the revoked serials in its TLS handshake
// (tls.Config.VerifyConnection) from then on, without a restart, and leaves
// the connections already open.
//
// The process is started with Linux's parent-death signal set to SIGKILL, so
// a test binary that dies (panic, -timeout) does not leave brokers behind.
// Brokers are stopped and signalled by the pid of the child that Start
// created, never by name.
package mqtttest
