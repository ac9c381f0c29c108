package health

import (
	"crypto/x509"
	"fmt"
	"time"

	"github.com/iot-hub/agent/agent/broker"
	"github.com/iot-hub/agent/agent/outbox"
	"github.com/iot-hub/agent/agent/sensors"
	"github.com/iot-hub/agent/agent/uplink"
)

// snapshot is the sources as one request read them, and the verdict.
type snapshot struct {
	now        time.Time
	uplink     *uplink.State // nil: no uplink
	outbox     *outbox.Stats
	uplinks    []outbox.UplinkStats // each uplink's share; none with one unnamed
	outboxErr  error                // the outbox cannot be read; outbox is nil
	sensors    []sensors.Status
	sensorsErr error
	hasSensors bool
	cert       *x509.Certificate // nil: none presented
	broker     *broker.Stats     // nil: no embedded broker
	problems   []string          // why the agent is unhealthy; none when healthy
}

// healthy reports whether the snapshot found no problem.
func (sn *snapshot) healthy() bool { return len(sn.problems) == 0 }

// read reads the sources and judges the agent's health (see the package
// documentation).
func (s *Server) read() *snapshot {
	sn := &snapshot{now: s.cfg.Clock.Now()}
	if s.src.Uplink != nil {
		u := s.src.Uplink()
		sn.uplink = &u
		if !u.Connected {
			since := u.Since
			if since.IsZero() {
				since = s.started
			}
			if down := sn.now.Sub(since); down > s.cfg.Grace {
				sn.problems = append(sn.problems, fmt.Sprintf("uplink: disconnected from %s for %v, longer than the %v grace",
					u.Broker, down.Round(time.Second), s.cfg.Grace))
			}
		}
	}
	if s.src.Outbox != nil {
		if st := s.src.Outbox.Stats(); st.Err != nil {
			sn.outboxErr = st.Err
			sn.problems = append(sn.problems, "outbox: cannot be read: "+st.Err.Error())
		} else {
			sn.outbox = &st
			for _, u := range s.src.Outbox.Uplinks() {
				if u.Name != "" { // a store of one unnamed uplink
					sn.uplinks = append(sn.uplinks, u)
				}
			}
		}
	}
	if s.src.Sensors != nil {
		sn.hasSensors = true
		sn.sensors, sn.sensorsErr = s.src.Sensors.Status()
	}
	if s.src.Certificate != nil {
		sn.cert = s.src.Certificate()
	}
	if s.src.Broker != nil {
		st := s.src.Broker()
		sn.broker = &st
	}
	return sn
}
