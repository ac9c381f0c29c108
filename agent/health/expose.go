package health

import (
	"net/http"

	"github.com/iot-hub/agent/agent/broker"
	"github.com/iot-hub/agent/agent/outbox"
)

// The metric families of /metrics.
const (
	metricInfo              = "iot_hub_agent_info"
	metricHealthy           = "iot_hub_agent_healthy"
	metricUplinkConnected   = "iot_hub_agent_uplink_connected"
	metricUplinkReconnects  = "iot_hub_agent_uplink_reconnects_total"
	metricOutboxDepth       = "iot_hub_agent_outbox_depth"
	metricOutboxBytes       = "iot_hub_agent_outbox_bytes"
	metricOutboxOldestAge   = "iot_hub_agent_outbox_oldest_age_seconds"
	metricOutboxDropped     = "iot_hub_agent_outbox_dropped_total"
	metricOutboxQuarantined = "iot_hub_agent_outbox_quarantined"
	metricOutboxDuplicates  = "iot_hub_agent_outbox_duplicates_total"
	metricOutboxSalvaged    = "iot_hub_agent_outbox_salvaged_total"
	metricUplinkRecords     = "iot_hub_agent_uplink_records_total"
	metricUplinkQueued      = "iot_hub_agent_uplink_queued"
	metricPublished         = "iot_hub_agent_published_total"
	metricPublishLatency    = "iot_hub_agent_publish_latency_seconds"
	metricRPCCommands       = "iot_hub_agent_rpc_commands_total"
	metricOtherDevices      = "iot_hub_agent_commands_other_devices_total"
	metricRPCDuration       = "iot_hub_agent_rpc_duration_seconds"
	metricSensorReadErrors  = "iot_hub_agent_sensor_read_errors_total"
	metricCertDaysLeft      = "iot_hub_agent_certificate_days_left"
	metricBrokerClients     = "iot_hub_agent_embedded_broker_clients"
	metricBrokerMessages    = "iot_hub_agent_embedded_broker_messages_total"
)

// lanes are the outbox's lanes, in the order of Metrics.published.
var lanes = [...]outbox.Lane{outbox.LaneControl, outbox.LaneTelemetry}

// serveMetrics answers /metrics.
func (s *Server) serveMetrics(w http.ResponseWriter, _ *http.Request) {
	b := s.exposition(s.read())
	w.Header().Set("Content-Type", ContentType)
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b)
}

// exposition writes the metrics of sn and of s's Metrics in the text
// format. A part the agent does not have, or that cannot be read, has
// no samples.
func (s *Server) exposition(sn *snapshot) []byte {
	w := &textWriter{b: make([]byte, 0, 8<<10)}
	if s.src.Version != "" {
		w.family(metricInfo, typeGauge, "The agent's version, as a label; the value is 1.")
		w.gauge(metricInfo, 1, "version", s.src.Version)
	}
	w.family(metricHealthy, typeGauge, "1 when /healthz answers 200, 0 when it answers 503.")
	w.gauge(metricHealthy, bit(sn.healthy()))

	if u := sn.uplink; u != nil {
		w.family(metricUplinkConnected, typeGauge, "1 while the uplink is connected to the broker, else 0.")
		w.gauge(metricUplinkConnected, bit(u.Connected))
		w.family(metricUplinkReconnects, typeCounter, "Connections of the uplink made after the first.")
		w.count(metricUplinkReconnects, uint64(max(u.Reconnects, 0)))
	}

	if st := sn.outbox; st != nil {
		ls := [...]*outbox.LaneStats{&st.Control, &st.Telemetry}
		w.family(metricOutboxDepth, typeGauge, "Records waiting in the outbox, in flight included, by lane.")
		for i, l := range ls {
			w.count(metricOutboxDepth, uint64(max(l.Depth, 0)), "lane", lanes[i].String())
		}
		w.family(metricOutboxBytes, typeGauge, "Bytes of the records waiting in the outbox, as stored, by lane.")
		for i, l := range ls {
			w.count(metricOutboxBytes, uint64(max(l.Bytes, 0)), "lane", lanes[i].String())
		}
		w.family(metricOutboxOldestAge, typeGauge, "Age of the oldest record waiting in the outbox, by lane; 0 when the lane is empty.")
		for i, l := range ls {
			w.gauge(metricOutboxOldestAge, seconds(l.OldestAge), "lane", lanes[i].String())
		}
		w.family(metricOutboxDropped, typeCounter, "Records dropped instead of sent, by reason (cap: oldest telemetry dropped for room; expired; refused by an append), since the outbox file was made.")
		w.count(metricOutboxDropped, st.Dropped.Cap, "reason", "cap")
		w.count(metricOutboxDropped, st.Dropped.Expired, "reason", "expired")
		w.count(metricOutboxDropped, st.Dropped.Refused, "reason", "refused")
		w.family(metricOutboxQuarantined, typeGauge, "Records set aside in the outbox: refused by the broker for good, or failing their checksum.")
		w.count(metricOutboxQuarantined, uint64(max(st.Quarantined, 0)))
		w.family(metricOutboxDuplicates, typeCounter, "Records an uplink delivered after another had delivered them: as a phase B failover began or ended, or the phase changed, since the agent started.")
		w.count(metricOutboxDuplicates, st.Duplicates)
		w.family(metricOutboxSalvaged, typeCounter, "Records copied out of a damaged outbox file when the agent started (saved), and those that could not be read (lost).")
		w.count(metricOutboxSalvaged, st.Salvaged.Saved, "outcome", "saved")
		w.count(metricOutboxSalvaged, st.Salvaged.Lost, "outcome", "lost")
	}
	if len(sn.uplinks) > 0 {
		w.family(metricUplinkRecords, typeCounter, "Records by uplink: sent (handed to it, again after a failure included) and acked (acknowledged by its brokers), since the agent started.")
		for _, u := range sn.uplinks {
			w.count(metricUplinkRecords, u.Sent, "uplink", u.Name, "state", "sent")
			w.count(metricUplinkRecords, u.Acked, "uplink", u.Name, "state", "acked")
		}
		w.family(metricUplinkQueued, typeGauge, "Records each uplink has still to send, in flight included.")
		for _, u := range sn.uplinks {
			w.count(metricUplinkQueued, uint64(max(u.Queued, 0)), "uplink", u.Name)
		}
	}

	m := s.metrics
	w.family(metricPublished, typeCounter, "Records the broker acknowledged, by outbox lane.")
	for i := range lanes {
		w.count(metricPublished, m.published[i].Load(), "lane", lanes[i].String())
	}
	w.family(metricPublishLatency, typeHistogram, "Time from a record's append to the outbox to the broker's acknowledgement.")
	w.histogram(metricPublishLatency, m.publishLatency)

	w.family(metricOtherDevices, typeCounter, "Records of the Kafka commands topic read and skipped as other devices'.")
	w.count(metricOtherDevices, m.otherDevices.Load())

	counts, methods, durations := m.rpcCounts()
	w.family(metricRPCCommands, typeCounter, "Commands answered, by method and code (OK for a success).")
	for _, c := range counts {
		w.count(metricRPCCommands, c.n, "method", c.method, "code", c.code)
	}
	w.family(metricRPCDuration, typeHistogram, "Time from a command's arrival to its answer, by method.")
	for i, method := range methods {
		w.histogram(metricRPCDuration, durations[i], "method", method)
	}

	if sn.hasSensors {
		w.family(metricSensorReadErrors, typeCounter, "Failed reads, by sensor.")
		for _, st := range sn.sensors {
			w.count(metricSensorReadErrors, st.Failures, "sensor", st.Name)
		}
	}

	if b := sn.broker; b != nil {
		w.family(metricBrokerClients, typeGauge, "Clients connected to the embedded broker.")
		w.count(metricBrokerClients, uint64(max(b.Connected, 0)))
		w.family(metricBrokerMessages, typeCounter, "Messages of the embedded broker's clients on its integrate topics, by outcome: kept (taken as events, adapted into telemetry, unadapted legacy kept as events) or left out (too_large, over_rate of their client, over_total of all clients, failed to be queued).")
		for _, o := range broker.Outcomes() {
			w.count(metricBrokerMessages, b.Integrate.Of(o), "outcome", o.String())
		}
	}

	if c := sn.cert; c != nil {
		w.family(metricCertDaysLeft, typeGauge, "Days until the client certificate the uplink presents expires; negative once it has.")
		w.gauge(metricCertDaysLeft, c.NotAfter.Sub(sn.now).Hours()/24)
	}
	return w.b
}

// bit is 1 for true, 0 for false.
func bit(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
