package health

import (
	"math"
	"net/http"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/iot-hub/agent/agent/sensors"
	"github.com/iot-hub/agent/contracts"
)

// Statuses of /healthz.
const (
	StatusOK        = "ok"
	StatusUnhealthy = "unhealthy"
)

// report is the body of /healthz. Parts the agent does not have are left
// out.
type report struct {
	Status   string         `json:"status"`
	Problems []string       `json:"problems"`
	Uplink   *uplinkReport  `json:"uplink,omitzero"`
	Outbox   *outboxReport  `json:"outbox,omitzero"`
	Sensors  *sensorsReport `json:"sensors,omitzero"`
}

type uplinkReport struct {
	Connected  bool   `json:"connected"`
	Since      string `json:"since,omitzero"`
	Broker     string `json:"broker"`
	Reconnects int    `json:"reconnects"`
}

type outboxReport struct {
	Error            string  `json:"error,omitzero"`
	ControlDepth     int     `json:"controlDepth"`
	TelemetryDepth   int     `json:"telemetryDepth"`
	Bytes            int64   `json:"bytes"`
	OldestAgeSeconds float64 `json:"oldestAgeSeconds"`
	DroppedCap       uint64  `json:"droppedCap"`
	DroppedExpired   uint64  `json:"droppedExpired"`
	DroppedRefused   uint64  `json:"droppedRefused"`
	Quarantined      int     `json:"quarantined"`
}

type sensorsReport struct {
	Error   string   `json:"error,omitzero"`
	Total   int      `json:"total"`
	OK      int      `json:"ok"`
	Failing []string `json:"failing"`
	Unknown int      `json:"unknown"`
}

// serveHealth answers /healthz: 200 when healthy, else 503.
func (s *Server) serveHealth(w http.ResponseWriter, _ *http.Request) {
	sn := s.read()
	b, err := json.Marshal(reportOf(sn))
	if err != nil { // plain data: it cannot fail
		s.requestErrors.Error("health: encode /healthz", "err", err)
		http.Error(w, "health: encode: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if !sn.healthy() {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_, _ = w.Write(append(b, '\n'))
}

// reportOf is the /healthz report of sn.
func reportOf(sn *snapshot) report {
	r := report{Status: StatusOK, Problems: []string{}}
	if !sn.healthy() {
		r.Status, r.Problems = StatusUnhealthy, sn.problems
	}
	if u := sn.uplink; u != nil {
		r.Uplink = &uplinkReport{Connected: u.Connected, Broker: u.Broker, Reconnects: u.Reconnects}
		if !u.Since.IsZero() {
			r.Uplink.Since = stamp(u.Since)
		}
	}
	if sn.outboxErr != nil {
		r.Outbox = &outboxReport{Error: sn.outboxErr.Error()}
	} else if st := sn.outbox; st != nil {
		r.Outbox = &outboxReport{
			ControlDepth: st.Control.Depth, TelemetryDepth: st.Telemetry.Depth, Bytes: st.Control.Bytes + st.Telemetry.Bytes,
			OldestAgeSeconds: seconds(max(st.Control.OldestAge, st.Telemetry.OldestAge)),
			DroppedCap:       st.Dropped.Cap, DroppedExpired: st.Dropped.Expired, DroppedRefused: st.Dropped.Refused,
			Quarantined: st.Quarantined,
		}
	}
	if sn.hasSensors {
		r.Sensors = &sensorsReport{Failing: []string{}}
		if sn.sensorsErr != nil {
			r.Sensors.Error = sn.sensorsErr.Error()
		}
		for _, st := range sn.sensors {
			r.Sensors.Total++
			switch st.Health {
			case sensors.HealthOK:
				r.Sensors.OK++
			case sensors.HealthFailing:
				r.Sensors.Failing = append(r.Sensors.Failing, st.Name)
			default:
				r.Sensors.Unknown++
			}
		}
	}
	return r
}

// stamp formats t as the contract's timestamps are: RFC 3339, UTC,
// milliseconds.
func stamp(t time.Time) string { return t.UTC().Format(contracts.TimeLayout) }

// seconds is d in seconds, to the millisecond.
func seconds(d time.Duration) float64 { return math.Round(d.Seconds()*1000) / 1000 }
