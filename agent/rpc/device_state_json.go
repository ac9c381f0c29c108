package rpc

import (
	"strconv"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/iot-hub/agent/internal/jsonnum"
)

// getDeviceState's result writes its own JSON: it is the answer a
// backend asks for most, and json.Marshal took half of the answer's
// encoding, by reflection, on the way a caller waits on. appendJSON
// writes exactly what json.Marshal writes for the result, by its json
// tags (FuzzDeviceStateJSON holds it to that, for every field).

// resultAppender is a method's result that writes its own JSON, a
// compact object, as json.Marshal would.
type resultAppender interface {
	appendJSON(b []byte) ([]byte, error)
}

// jsonOut appends JSON to b, keeping the first error.
type jsonOut struct {
	b   []byte
	err error
}

func (w *jsonOut) raw(s string) { w.b = append(w.b, s...) }

// str appends s quoted, failing on invalid UTF-8 as json.Marshal does.
func (w *jsonOut) str(s string) {
	if w.err == nil {
		w.b, w.err = jsontext.AppendQuote(w.b, s)
	}
}

func (w *jsonOut) float(f float64) {
	var err error
	if w.b, err = jsonnum.AppendFloat(w.b, f); err != nil && w.err == nil {
		w.err = err
	}
}

func (w *jsonOut) int(n int)       { w.b = strconv.AppendInt(w.b, int64(n), 10) }
func (w *jsonOut) int64(n int64)   { w.b = strconv.AppendInt(w.b, n, 10) }
func (w *jsonOut) uint(n uint64)   { w.b = strconv.AppendUint(w.b, n, 10) }
func (w *jsonOut) bool(v bool)     { w.b = strconv.AppendBool(w.b, v) }
func (w *jsonOut) strs(s []string) { w.list(len(s), func(i int) { w.str(s[i]) }) }

// list appends an array of n elements, each by elem; a nil slice is []
// too, as json.Marshal writes it.
func (w *jsonOut) list(n int, elem func(i int)) {
	w.raw("[")
	for i := range n {
		if i > 0 {
			w.raw(",")
		}
		elem(i)
	}
	w.raw("]")
}

// optStr appends the member `,"name":s` unless s is empty (omitzero).
func (w *jsonOut) optStr(name, s string) {
	if s != "" {
		w.raw(name)
		w.str(s)
	}
}

func (r deviceStateResult) appendJSON(b []byte) ([]byte, error) {
	w := jsonOut{b: b}
	w.raw(`{"deviceId":`)
	w.str(r.DeviceID)
	w.raw(`,"agentVersion":`)
	w.str(r.AgentVersion)
	w.optStr(`,"agentSlot":`, r.AgentSlot)
	w.optStr(`,"agentStartedAt":`, r.AgentStartedAt)
	w.raw(`,"os":`)
	w.str(r.OS)
	w.raw(`,"arch":`)
	w.str(r.Arch)
	w.optStr(`,"kernel":`, r.Kernel)
	w.optStr(`,"hostname":`, r.Hostname)
	w.optStr(`,"bootTime":`, r.BootTime)
	w.raw(`,"uptimeSeconds":`)
	w.float(r.UptimeSeconds)
	w.raw(`,"clockSynchronized":`)
	w.bool(r.ClockSynchronized)
	if u := r.Uplink; u != nil {
		w.raw(`,"uplink":{"connected":`)
		w.bool(u.Connected)
		w.optStr(`,"since":`, u.Since)
		w.raw(`,"broker":`)
		w.str(u.Broker)
		w.raw(`,"reconnects":`)
		w.int(u.Reconnects)
		w.raw("}")
	}
	if o := r.Outbox; o != nil {
		w.raw(`,"outbox":{"controlDepth":`)
		w.int(o.ControlDepth)
		w.raw(`,"telemetryDepth":`)
		w.int(o.TelemetryDepth)
		w.raw(`,"bytes":`)
		w.int64(o.Bytes)
		w.raw(`,"inFlight":`)
		w.int(o.InFlight)
		w.raw(`,"oldestAgeSeconds":`)
		w.float(o.OldestAgeSeconds)
		w.raw(`,"droppedCap":`)
		w.uint(o.DroppedCap)
		w.raw(`,"droppedExpired":`)
		w.uint(o.DroppedExpired)
		w.raw(`,"droppedRefused":`)
		w.uint(o.DroppedRefused)
		w.raw(`,"quarantined":`)
		w.int(o.Quarantined)
		w.raw(`,"fileBytes":`)
		w.int64(o.FileBytes)
		w.raw("}")
	}
	if m := r.Migration; m != nil {
		w.raw(`,"migration":{"phase":`)
		w.str(m.Phase)
		w.raw(`,"failedOver":`)
		w.bool(m.FailedOver)
		w.raw(`,"duplicates":`)
		w.uint(m.Duplicates)
		w.raw(`,"uplinks":`)
		w.list(len(m.Uplinks), func(i int) {
			u := &m.Uplinks[i]
			w.raw(`{"name":`)
			w.str(u.Name)
			w.raw(`,"running":`)
			w.bool(u.Running)
			w.raw(`,"connected":`)
			w.bool(u.Connected)
			w.raw(`,"sent":`)
			w.uint(u.Sent)
			w.raw(`,"acked":`)
			w.uint(u.Acked)
			w.raw(`,"queued":`)
			w.int(u.Queued)
			w.raw("}")
		})
		w.raw("}")
	}
	if c := r.Certificate; c != nil {
		w.raw(`,"certificate":{"serial":`)
		w.str(c.Serial)
		w.raw(`,"subject":`)
		w.str(c.Subject)
		w.raw(`,"notAfter":`)
		w.str(c.NotAfter)
		w.raw(`,"daysLeft":`)
		w.float(c.DaysLeft)
		if n := c.Renewal; n != nil {
			w.raw(`,"renewal":{"state":`)
			w.str(n.State)
			w.optStr(`,"renewAt":`, n.RenewAt)
			w.optStr(`,"correlationId":`, n.CorrelationID)
			if n.CSRs != 0 {
				w.raw(`,"csrs":`)
				w.int(n.CSRs)
			}
			if n.Failures != 0 {
				w.raw(`,"failures":`)
				w.int(n.Failures)
			}
			w.optStr(`,"lastError":`, n.LastError)
			w.optStr(`,"nextAttempt":`, n.NextAttempt)
			w.raw("}")
		}
		w.raw("}")
	}
	if s := r.Sensors; s != nil {
		w.raw(`,"sensors":{"total":`)
		w.int(s.Total)
		w.raw(`,"ok":`)
		w.int(s.OK)
		w.raw(`,"failing":`)
		w.strs(s.Failing)
		w.raw(`,"unknown":`)
		w.int(s.Unknown)
		w.raw("}")
	}
	if e := r.EmbeddedBroker; e != nil {
		w.raw(`,"embeddedBroker":{"clientsConnected":`)
		w.int(e.ClientsConnected)
		w.raw(`,"devices":`)
		w.int(e.Devices)
		w.raw(`,"failing":`)
		w.strs(e.Failing)
		m := &e.Messages
		w.raw(`,"messages":{"taken":`)
		w.uint(m.Taken)
		w.raw(`,"adapted":`)
		w.uint(m.Adapted)
		w.raw(`,"unadapted":`)
		w.uint(m.Unadapted)
		w.raw(`,"tooLarge":`)
		w.uint(m.TooLarge)
		w.raw(`,"overRate":`)
		w.uint(m.OverRate)
		w.raw(`,"overTotal":`)
		w.uint(m.OverTotal)
		w.raw(`,"failed":`)
		w.uint(m.Failed)
		w.raw("}}")
	}
	if bd := r.Binding; bd != nil {
		w.raw(`,"binding":{"bound":`)
		w.bool(bd.Bound)
		w.optStr(`,"userId":`, bd.UserID)
		w.optStr(`,"since":`, bd.Since)
		w.raw("}")
	}
	w.raw(`,"memory":{`)
	comma := ""
	for _, m := range [...]struct {
		name string
		n    uint64
	}{{`"totalBytes":`, r.Memory.TotalBytes}, {`"availableBytes":`, r.Memory.AvailableBytes}, {`"agentRssBytes":`, r.Memory.AgentRSSBytes}} {
		if m.n != 0 {
			w.raw(comma + m.name)
			w.uint(m.n)
			comma = ","
		}
	}
	w.raw(`},"disk":{"path":`)
	w.str(r.Disk.Path)
	w.raw(`,"totalBytes":`)
	w.uint(r.Disk.TotalBytes)
	w.raw(`,"availableBytes":`)
	w.uint(r.Disk.AvailableBytes)
	w.raw("}")
	if t := r.CPUTemperatureCelsius; t != nil {
		w.raw(`,"cpuTemperatureCelsius":`)
		w.float(*t)
	}
	w.raw("}")
	return w.b, w.err
}
