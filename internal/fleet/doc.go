// Command fleet runs a fleet of simulated gateways against a real
// mosquitto and measures how they come back after the broker dies: the
// reconnect storm, the time until the fleet is connected again, the
// readings lost (none may be) and duplicated, and the broker's CPU. Then
// it measures what one gateway's Kafka uplink costs a cluster (kfake):
// its connections, and its requests a second when idle; and runs
// -kafka-gateways gateways on the Kafka uplink against kfake, counting
// their connections and requests, and reading every reading back from
// the telemetry topic.
//
// Each gateway is the agent's own code, in this one process: its outbox
// (a bbolt file in a directory of its own), its MQTT uplink, and its
// sampler reading a simulated sensor every -interval, with the client
// id gw-NNNN. The scenario (make fleet; docs/fleet.md):
//
//  1. mosquitto starts on a free loopback port, with persistence (so
//     that the verifier's subscription outlives the kill); a verifier
//     subscribes to every gateway's telemetry, QoS 1.
//  2. The gateways start, their first reads spread over the interval,
//     and run until every one is connected, and -warmup more.
//  3. mosquitto is killed with SIGKILL, and started again on the same
//     port -outage later.
//  4. For -watch, the program notes each gateway's first connection
//     after the return, and mosquitto's log gives the connections it
//     accepted each second.
//  5. The sensors stop; once every outbox has drained, each reading the
//     samplers stored is looked for among those the verifier received.
//
// A reading the verifier never got is lost. One the gateway's outbox had
// handed to mosquitto and seen acknowledged before the kill is counted
// apart, as lost by the broker (mosquitto had it, and died before it
// saved or forwarded it); any other is the agent's loss. The exit status
// is 1 when the agent lost a reading, over MQTT or Kafka, or when -check
// is set and a target is missed: 99% of the gateways connected within
// 15 s of the broker's return, at most N/5 connection attempts in any
// second.
package main
