package rpc

import (
	"context"
	"errors"
	"slices"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/iot-hub/agent/agent/broker"
	"github.com/iot-hub/agent/agent/sensors"
	"github.com/iot-hub/agent/contracts"
)

// getSensors answers getSensors: the latest reading and the health of
// every sensor, or of those params.sensors names; with params.fresh, the
// sensors are read now, within the command's deadline. The devices on
// the embedded broker that published on its integrate topics follow the
// gateway's sensors, each named by its MQTT client id: a name is looked
// up among the gateway's sensors first.
type getSensors struct {
	sensors Sensors
	broker  func() broker.Stats // nil: no embedded broker
}

// getSensorsParams are the params of getSensors.
type getSensorsParams struct {
	Sensors []string `json:"sensors,omitzero"`
	Fresh   bool     `json:"fresh,omitzero"`
}

// sensorsResult is the result of getSensors.
type sensorsResult struct {
	Sensors []sensorResult `json:"sensors"`
}

type sensorResult struct {
	Name                string             `json:"name"`
	Health              sensors.Health     `json:"health"`
	Readings            []readingResult    `json:"readings"`
	ConsecutiveFailures int                `json:"consecutiveFailures"`
	LastError           string             `json:"lastError,omitzero"`
	LastErrorAt         string             `json:"lastErrorAt,omitzero"`
	LocalDevice         *localDeviceResult `json:"localDevice,omitzero"`
}

type readingResult struct {
	Metric string  `json:"metric"`
	Value  float64 `json:"value"`
	Unit   string  `json:"unit"`
	At     string  `json:"at"`
}

func (g getSensors) run(ctx context.Context, raw jsontext.Value) (any, error) {
	var p getSensorsParams
	if err := decodeParams(raw, &p); err != nil {
		return nil, err
	}
	names, locals, err := g.pick(p.Sensors)
	if err != nil {
		return nil, err
	}
	out := sensorsResult{Sensors: []sensorResult{}}
	if len(p.Sensors) == 0 || len(names) > 0 {
		if out.Sensors, err = g.own(ctx, names, p.Fresh); err != nil {
			return nil, err
		}
	}
	for _, c := range locals {
		out.Sensors = append(out.Sensors, localSensorOf(c))
	}
	return out, nil
}

// pick splits the names asked for into the gateway's sensors and the
// devices on the embedded broker; none asked for is every one of both.
// A name that is neither is left to the gateway's sensors, which refuse
// it.
func (g getSensors) pick(asked []string) (names []string, locals []broker.ClientStats, err error) {
	var all []broker.ClientStats
	if g.broker != nil {
		all = g.broker().Clients
	}
	if len(asked) == 0 {
		return nil, all, nil
	}
	own := map[string]bool{}
	if g.sensors != nil {
		sts, err := g.sensors.Status()
		if err != nil {
			return nil, nil, err
		}
		for _, st := range sts {
			own[st.Name] = true
		}
	}
	for _, name := range asked {
		i := slices.IndexFunc(all, func(c broker.ClientStats) bool { return c.ID == name })
		if own[name] || i < 0 {
			names = append(names, name)
		} else {
			locals = append(locals, all[i])
		}
	}
	return names, locals, nil
}

// own returns the entries of the gateway's sensors named, or of all of
// them when none is.
func (g getSensors) own(ctx context.Context, names []string, fresh bool) ([]sensorResult, error) {
	if g.sensors == nil {
		if len(names) > 0 {
			return nil, errorf(contracts.CodeInvalidCommand, "params.sensors: this device has no sensor %q", names[0])
		}
		return []sensorResult{}, nil
	}
	var sts []sensors.Status
	var err error
	if fresh {
		sts, err = g.sensors.ReadNow(ctx, names...)
	} else {
		sts, err = g.sensors.Status(names...)
	}
	if errors.Is(err, sensors.ErrUnknownSensor) {
		return nil, errorf(contracts.CodeInvalidCommand, "params.sensors: %v", err)
	}
	if err != nil {
		return nil, err
	}
	out := make([]sensorResult, len(sts))
	for i, st := range sts {
		r := sensorResult{Name: st.Name, Health: st.Health, Readings: make([]readingResult, len(st.Readings)),
			ConsecutiveFailures: st.ConsecutiveFailures, LastError: st.LastError}
		if !st.LastErrorAt.IsZero() {
			r.LastErrorAt = stamp(st.LastErrorAt)
		}
		for j, rd := range st.Readings {
			r.Readings[j] = readingResult{Metric: rd.Metric, Value: rd.Value, Unit: rd.Unit, At: stamp(st.At)}
		}
		out[i] = r
	}
	return out, nil
}

// decodeParams decodes a command's params into p strictly: a member p
// does not know, or of the wrong type, is INVALID_COMMAND naming it.
// Absent params leave p zero.
func decodeParams(raw jsontext.Value, p any) error {
	if len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, p, json.RejectUnknownMembers(true)); err != nil {
		var se *json.SemanticError
		if errors.As(err, &se) && se.JSONPointer != "" {
			return errorf(contracts.CodeInvalidCommand, "params%s: %v", dotted(se.JSONPointer), errors.Unwrap(err))
		}
		return errorf(contracts.CodeInvalidCommand, "params: %v", err)
	}
	return nil
}

// dotted turns a JSON pointer ("/sensors/0") into the contract's dotted
// path (".sensors[0]").
func dotted(ptr jsontext.Pointer) string {
	var s string
	for tok := range ptr.Tokens() {
		if tok != "" && tok[0] >= '0' && tok[0] <= '9' {
			s += "[" + tok + "]"
		} else {
			s += "." + tok
		}
	}
	return s
}
