package rpc

import (
	"context"
	"math"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/iot-hub/agent/agent/certs"
	"github.com/iot-hub/agent/agent/rpc/host"
	"github.com/iot-hub/agent/agent/sensors"
)

// deviceState answers getDeviceState: the agent, the machine, the uplink,
// the outbox, the certificate, the sensors and the embedded broker's
// devices, at one instant.
type deviceState struct {
	deps     Deps
	deviceID string
	now      func() time.Time
}

// deviceStateResult is the result of getDeviceState. Parts the agent
// does not have (no TLS, no sensors) are left out.
// bindingResult is the gateway's binding to a platform user, as the
// backend's device.bound and device.unbound events said.
type bindingResult struct {
	Bound  bool   `json:"bound"`
	UserID string `json:"userId,omitzero"`
	Since  string `json:"since,omitzero"`
}

type deviceStateResult struct {
	DeviceID              string                `json:"deviceId"`
	AgentVersion          string                `json:"agentVersion"`
	AgentSlot             string                `json:"agentSlot,omitzero"`
	AgentStartedAt        string                `json:"agentStartedAt,omitzero"`
	OS                    string                `json:"os"`
	Arch                  string                `json:"arch"`
	Kernel                string                `json:"kernel,omitzero"`
	Hostname              string                `json:"hostname,omitzero"`
	BootTime              string                `json:"bootTime,omitzero"`
	UptimeSeconds         float64               `json:"uptimeSeconds"`
	ClockSynchronized     bool                  `json:"clockSynchronized"`
	Uplink                *uplinkResult         `json:"uplink,omitzero"`
	Outbox                *outboxResult         `json:"outbox,omitzero"`
	Migration             *migrationResult      `json:"migration,omitzero"`
	Certificate           *certificateResult    `json:"certificate,omitzero"`
	Sensors               *sensorSummary        `json:"sensors,omitzero"`
	EmbeddedBroker        *embeddedBrokerResult `json:"embeddedBroker,omitzero"`
	Binding               *bindingResult        `json:"binding,omitzero"`
	Memory                memoryResult          `json:"memory"`
	Disk                  diskResult            `json:"disk"`
	CPUTemperatureCelsius *float64              `json:"cpuTemperatureCelsius,omitzero"`
}

type uplinkResult struct {
	Connected  bool   `json:"connected"`
	Since      string `json:"since,omitzero"`
	Broker     string `json:"broker"`
	Reconnects int    `json:"reconnects"`
}

type outboxResult struct {
	ControlDepth     int     `json:"controlDepth"`
	TelemetryDepth   int     `json:"telemetryDepth"`
	Bytes            int64   `json:"bytes"`
	InFlight         int     `json:"inFlight"`
	OldestAgeSeconds float64 `json:"oldestAgeSeconds"`
	DroppedCap       uint64  `json:"droppedCap"`
	DroppedExpired   uint64  `json:"droppedExpired"`
	DroppedRefused   uint64  `json:"droppedRefused"`
	Quarantined      int     `json:"quarantined"`
	FileBytes        int64   `json:"fileBytes"`
}

type migrationResult struct {
	Phase      string        `json:"phase"`
	FailedOver bool          `json:"failedOver"`
	Duplicates uint64        `json:"duplicates"`
	Uplinks    []uplinkShare `json:"uplinks"`
}

type uplinkShare struct {
	Name      string `json:"name"`
	Running   bool   `json:"running"`
	Connected bool   `json:"connected"`
	Sent      uint64 `json:"sent"`
	Acked     uint64 `json:"acked"`
	Queued    int    `json:"queued"`
}

type certificateResult struct {
	Serial   string         `json:"serial"`
	Subject  string         `json:"subject"`
	NotAfter string         `json:"notAfter"`
	DaysLeft float64        `json:"daysLeft"`
	Renewal  *renewalResult `json:"renewal,omitzero"`
}

type renewalResult struct {
	State         string `json:"state"`
	RenewAt       string `json:"renewAt,omitzero"`
	CorrelationID string `json:"correlationId,omitzero"`
	CSRs          int    `json:"csrs,omitzero"`
	Failures      int    `json:"failures,omitzero"`
	LastError     string `json:"lastError,omitzero"`
	NextAttempt   string `json:"nextAttempt,omitzero"`
}

func renewalOf(r certs.Status) *renewalResult {
	out := &renewalResult{State: r.State, CorrelationID: r.CorrelationID, CSRs: r.CSRs, Failures: r.Failures, LastError: r.LastError}
	if !r.RenewAt.IsZero() {
		out.RenewAt = stamp(r.RenewAt)
	}
	if !r.NextAttempt.IsZero() {
		out.NextAttempt = stamp(r.NextAttempt)
	}
	return out
}

type sensorSummary struct {
	Total   int      `json:"total"`
	OK      int      `json:"ok"`
	Failing []string `json:"failing"`
	Unknown int      `json:"unknown"`
}

type memoryResult struct {
	TotalBytes     uint64 `json:"totalBytes,omitzero"`
	AvailableBytes uint64 `json:"availableBytes,omitzero"`
	AgentRSSBytes  uint64 `json:"agentRssBytes,omitzero"`
}

type diskResult struct {
	Path           string `json:"path"`
	TotalBytes     uint64 `json:"totalBytes"`
	AvailableBytes uint64 `json:"availableBytes"`
}

func (s deviceState) run(ctx context.Context, _ jsontext.Value) (any, error) {
	now := s.now()
	facts, err := host.Read(s.deps.StateDir)
	if err != nil {
		return nil, err
	}
	r := deviceStateResult{
		DeviceID: s.deviceID, AgentVersion: s.deps.Version, AgentSlot: s.deps.Slot, OS: facts.OS, Arch: facts.Arch, Kernel: facts.Kernel,
		Hostname: facts.Hostname, UptimeSeconds: seconds(facts.Uptime), ClockSynchronized: facts.ClockSynchronized,
		Memory:                memoryResult{TotalBytes: facts.MemTotalBytes, AvailableBytes: facts.MemAvailableBytes, AgentRSSBytes: facts.ProcessRSSBytes},
		Disk:                  diskResult{Path: facts.Disk.Path, TotalBytes: facts.Disk.TotalBytes, AvailableBytes: facts.Disk.AvailableBytes},
		CPUTemperatureCelsius: facts.CPUTemperatureCelsius,
	}
	if !facts.BootTime.IsZero() {
		r.BootTime = stamp(facts.BootTime)
	}
	if !s.deps.Started.IsZero() {
		r.AgentStartedAt = stamp(s.deps.Started)
	}
	if s.deps.Uplink != nil {
		u := s.deps.Uplink()
		r.Uplink = &uplinkResult{Connected: u.Connected, Broker: u.Broker, Reconnects: u.Reconnects}
		if !u.Since.IsZero() {
			r.Uplink.Since = stamp(u.Since)
		}
	}
	if s.deps.Outbox != nil {
		st := s.deps.Outbox()
		r.Outbox = &outboxResult{
			ControlDepth: st.Control.Depth, TelemetryDepth: st.Telemetry.Depth, Bytes: st.Control.Bytes + st.Telemetry.Bytes,
			InFlight: st.InFlight, OldestAgeSeconds: seconds(max(st.Control.OldestAge, st.Telemetry.OldestAge)),
			DroppedCap: st.Dropped.Cap, DroppedExpired: st.Dropped.Expired, DroppedRefused: st.Dropped.Refused,
			Quarantined: st.Quarantined, FileBytes: st.FileSize,
		}
	}
	if s.deps.Migration != nil {
		r.Migration = migrationOf(s.deps.Migration())
	}
	if s.deps.Certificate != nil {
		if c := s.deps.Certificate(); c != nil {
			r.Certificate = &certificateResult{Serial: c.SerialNumber.Text(16), Subject: c.Subject.CommonName,
				NotAfter: stamp(c.NotAfter), DaysLeft: math.Round(c.NotAfter.Sub(now).Hours()/24*10) / 10}
			if s.deps.Renewal != nil {
				r.Certificate.Renewal = renewalOf(s.deps.Renewal())
			}
		}
	}
	if s.deps.Binding != nil {
		b := s.deps.Binding()
		r.Binding = &bindingResult{Bound: b.Bound, UserID: b.UserID}
		if !b.Since.IsZero() {
			r.Binding.Since = stamp(b.Since)
		}
	}
	if s.deps.Sensors != nil {
		sts, err := s.deps.Sensors.Status()
		if err != nil {
			return nil, err
		}
		sum := &sensorSummary{Total: len(sts), Failing: []string{}}
		for _, st := range sts {
			switch st.Health {
			case sensors.HealthOK:
				sum.OK++
			case sensors.HealthFailing:
				sum.Failing = append(sum.Failing, st.Name)
			default:
				sum.Unknown++
			}
		}
		r.Sensors = sum
	}
	if s.deps.Broker != nil {
		r.EmbeddedBroker = embeddedBrokerOf(s.deps.Broker())
	}
	return r, nil
}

// seconds is d in seconds, to the millisecond.
func seconds(d time.Duration) float64 { return math.Round(d.Seconds()*1000) / 1000 }
