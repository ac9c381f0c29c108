package rpc

import "github.com/iot-hub/agent/internal/jsonw"

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

// jsonOut is jsonw's writer, with the members a result has.
type jsonOut struct{ jsonw.Writer }

// strs appends s as an array of strings.
func (w *jsonOut) strs(s []string) { w.list(len(s), func(i int) { w.Str(s[i]) }) }

// list appends an array of n elements, each by elem; a nil slice is []
// too, as json.Marshal writes it.
func (w *jsonOut) list(n int, elem func(i int)) {
	w.Raw("[")
	for i := range n {
		if i > 0 {
			w.Raw(",")
		}
		elem(i)
	}
	w.Raw("]")
}

// optStr appends the member `,"name":s` unless s is empty (omitzero).
func (w *jsonOut) optStr(name, s string) {
	if s != "" {
		w.Raw(name)
		w.Str(s)
	}
}

// appendJSON appends the result to b as json.Marshal writes it.
func (r deviceStateResult) appendJSON(b []byte) ([]byte, error) {
	w := jsonOut{jsonw.Writer{B: b}}
	w.Raw(`{"deviceId":`)
	w.Str(r.DeviceID)
	w.Raw(`,"agentVersion":`)
	w.Str(r.AgentVersion)
	w.optStr(`,"agentSlot":`, r.AgentSlot)
	w.optStr(`,"agentStartedAt":`, r.AgentStartedAt)
	w.Raw(`,"os":`)
	w.Str(r.OS)
	w.Raw(`,"arch":`)
	w.Str(r.Arch)
	w.optStr(`,"kernel":`, r.Kernel)
	w.optStr(`,"hostname":`, r.Hostname)
	w.optStr(`,"bootTime":`, r.BootTime)
	w.Raw(`,"uptimeSeconds":`)
	w.Float(r.UptimeSeconds)
	w.Raw(`,"clockSynchronized":`)
	w.Bool(r.ClockSynchronized)
	if u := r.Uplink; u != nil {
		w.Raw(`,"uplink":{"connected":`)
		w.Bool(u.Connected)
		w.optStr(`,"since":`, u.Since)
		w.Raw(`,"broker":`)
		w.Str(u.Broker)
		w.Raw(`,"reconnects":`)
		w.Int(u.Reconnects)
		w.Raw("}")
	}
	if o := r.Outbox; o != nil {
		w.Raw(`,"outbox":{"controlDepth":`)
		w.Int(o.ControlDepth)
		w.Raw(`,"telemetryDepth":`)
		w.Int(o.TelemetryDepth)
		w.Raw(`,"bytes":`)
		w.Int64(o.Bytes)
		w.Raw(`,"inFlight":`)
		w.Int(o.InFlight)
		w.Raw(`,"oldestAgeSeconds":`)
		w.Float(o.OldestAgeSeconds)
		w.Raw(`,"droppedCap":`)
		w.Uint(o.DroppedCap)
		w.Raw(`,"droppedExpired":`)
		w.Uint(o.DroppedExpired)
		w.Raw(`,"droppedRefused":`)
		w.Uint(o.DroppedRefused)
		w.Raw(`,"quarantined":`)
		w.Int(o.Quarantined)
		w.Raw(`,"fileBytes":`)
		w.Int64(o.FileBytes)
		w.Raw("}")
	}
	if m := r.Migration; m != nil {
		w.Raw(`,"migration":{"phase":`)
		w.Str(m.Phase)
		w.Raw(`,"failedOver":`)
		w.Bool(m.FailedOver)
		w.Raw(`,"duplicates":`)
		w.Uint(m.Duplicates)
		w.Raw(`,"uplinks":`)
		w.list(len(m.Uplinks), func(i int) {
			u := &m.Uplinks[i]
			w.Raw(`{"name":`)
			w.Str(u.Name)
			w.Raw(`,"running":`)
			w.Bool(u.Running)
			w.Raw(`,"connected":`)
			w.Bool(u.Connected)
			w.Raw(`,"sent":`)
			w.Uint(u.Sent)
			w.Raw(`,"acked":`)
			w.Uint(u.Acked)
			w.Raw(`,"queued":`)
			w.Int(u.Queued)
			w.Raw("}")
		})
		w.Raw("}")
	}
	if c := r.Certificate; c != nil {
		w.Raw(`,"certificate":{"serial":`)
		w.Str(c.Serial)
		w.Raw(`,"subject":`)
		w.Str(c.Subject)
		w.Raw(`,"notAfter":`)
		w.Str(c.NotAfter)
		w.Raw(`,"daysLeft":`)
		w.Float(c.DaysLeft)
		if n := c.Renewal; n != nil {
			w.Raw(`,"renewal":{"state":`)
			w.Str(n.State)
			w.optStr(`,"renewAt":`, n.RenewAt)
			w.optStr(`,"correlationId":`, n.CorrelationID)
			if n.CSRs != 0 {
				w.Raw(`,"csrs":`)
				w.Int(n.CSRs)
			}
			if n.Failures != 0 {
				w.Raw(`,"failures":`)
				w.Int(n.Failures)
			}
			w.optStr(`,"lastError":`, n.LastError)
			w.optStr(`,"nextAttempt":`, n.NextAttempt)
			w.Raw("}")
		}
		w.Raw("}")
	}
	if s := r.Sensors; s != nil {
		w.Raw(`,"sensors":{"total":`)
		w.Int(s.Total)
		w.Raw(`,"ok":`)
		w.Int(s.OK)
		w.Raw(`,"failing":`)
		w.strs(s.Failing)
		w.Raw(`,"unknown":`)
		w.Int(s.Unknown)
		w.Raw("}")
	}
	if e := r.EmbeddedBroker; e != nil {
		w.Raw(`,"embeddedBroker":{"clientsConnected":`)
		w.Int(e.ClientsConnected)
		w.Raw(`,"devices":`)
		w.Int(e.Devices)
		w.Raw(`,"failing":`)
		w.strs(e.Failing)
		m := &e.Messages
		w.Raw(`,"messages":{"taken":`)
		w.Uint(m.Taken)
		w.Raw(`,"adapted":`)
		w.Uint(m.Adapted)
		w.Raw(`,"unadapted":`)
		w.Uint(m.Unadapted)
		w.Raw(`,"tooLarge":`)
		w.Uint(m.TooLarge)
		w.Raw(`,"overRate":`)
		w.Uint(m.OverRate)
		w.Raw(`,"overTotal":`)
		w.Uint(m.OverTotal)
		w.Raw(`,"failed":`)
		w.Uint(m.Failed)
		w.Raw("}}")
	}
	if bd := r.Binding; bd != nil {
		w.Raw(`,"binding":{"bound":`)
		w.Bool(bd.Bound)
		w.optStr(`,"userId":`, bd.UserID)
		w.optStr(`,"since":`, bd.Since)
		w.Raw("}")
	}
	w.Raw(`,"memory":{`)
	comma := ""
	for _, m := range [...]struct {
		name string
		n    uint64
	}{{`"totalBytes":`, r.Memory.TotalBytes}, {`"availableBytes":`, r.Memory.AvailableBytes}, {`"agentRssBytes":`, r.Memory.AgentRSSBytes}} {
		if m.n != 0 {
			w.Raw(comma)
			w.Raw(m.name)
			w.Uint(m.n)
			comma = ","
		}
	}
	w.Raw(`},"disk":{"path":`)
	w.Str(r.Disk.Path)
	w.Raw(`,"totalBytes":`)
	w.Uint(r.Disk.TotalBytes)
	w.Raw(`,"availableBytes":`)
	w.Uint(r.Disk.AvailableBytes)
	w.Raw("}")
	if t := r.CPUTemperatureCelsius; t != nil {
		w.Raw(`,"cpuTemperatureCelsius":`)
		w.Float(*t)
	}
	w.Raw("}")
	return w.B, w.Err
}
