// Package health serves the agent's local health and metrics endpoint:
// GET /healthz, a JSON report of the uplink, the outbox and the sensors,
// and GET /metrics, the Prometheus text exposition format 0.0.4, every
// name prefixed iot_hub_agent_.
//
// There are only a few types. A [Server] listens on a loopback address
// ([Config]) and reads the agent's parts through [Sources] when asked.
// [Settings], in Config, are the keys of the health section of the
// agent's configuration file, with their defaults and checks.
// [Metrics] counts what happens between two scrapes: the records the
// uplink published and their latency, the commands RPC answered; the
// components report to it through their hooks (mqtt.Config.OnPublished,
// kafka.Config.OnPublished, rpc.Config.Observe), at the cost of a few
// atomic adds and no allocation per record.
//
// # Healthy
//
// /healthz answers 200 with status "ok" when the agent is healthy and
// 503 with status "unhealthy", and the problems, when it is not. Healthy
// means both:
//
//   - the uplink is connected, or has been disconnected for at most
//     Config.Grace (60 s by default): since it last went down or, if it
//     never connected, since the server started;
//   - the outbox can be read: a lookup in its file succeeds.
//
// Failing sensors, a backlog, dropped or quarantined records are reported
// but leave the agent healthy: a restart would not fix them.
//
// # Caveats
//
//   - The address must be a loopback IP (127.0.0.0/8 or ::1): the
//     endpoint has no authentication and is for the gateway itself (a
//     local Prometheus agent, a watchdog). Config.Validate refuses any
//     other.
//   - Counters of [Metrics] start at zero with the process; the outbox's
//     drop counts come from its file and survive restarts.
//   - Every request reads the sources afresh: a scrape costs one read
//     transaction of the outbox and a copy of the sensors' statuses.
package health
