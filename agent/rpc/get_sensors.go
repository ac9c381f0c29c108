package rpc

import (
	"context"
	"errors"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/iot-hub/agent/agent/sensors"
	"github.com/iot-hub/agent/contracts"
)

// getSensors answers getSensors: the latest reading and the health of
// every sensor, or of those params.sensors names; with params.fresh, the
// sensors are read now, within the command's deadline.
type getSensors struct {
	sensors Sensors
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
	Name                string          `json:"name"`
	Health              sensors.Health  `json:"health"`
	Readings            []readingResult `json:"readings"`
	ConsecutiveFailures int             `json:"consecutiveFailures"`
	LastError           string          `json:"lastError,omitzero"`
	LastErrorAt         string          `json:"lastErrorAt,omitzero"`
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
	if g.sensors == nil {
		if len(p.Sensors) > 0 {
			return nil, errorf(contracts.CodeInvalidCommand, "params.sensors: this device has no sensors")
		}
		return sensorsResult{Sensors: []sensorResult{}}, nil
	}
	var sts []sensors.Status
	var err error
	if p.Fresh {
		sts, err = g.sensors.ReadNow(ctx, p.Sensors...)
	} else {
		sts, err = g.sensors.Status(p.Sensors...)
	}
	if errors.Is(err, sensors.ErrUnknownSensor) {
		return nil, errorf(contracts.CodeInvalidCommand, "params.sensors: %v", err)
	}
	if err != nil {
		return nil, err
	}
	out := sensorsResult{Sensors: make([]sensorResult, len(sts))}
	for i, st := range sts {
		r := sensorResult{Name: st.Name, Health: st.Health, Readings: make([]readingResult, len(st.Readings)),
			ConsecutiveFailures: st.ConsecutiveFailures, LastError: st.LastError}
		if !st.LastErrorAt.IsZero() {
			r.LastErrorAt = stamp(st.LastErrorAt)
		}
		for j, rd := range st.Readings {
			r.Readings[j] = readingResult{Metric: rd.Metric, Value: rd.Value, Unit: rd.Unit, At: stamp(st.At)}
		}
		out.Sensors[i] = r
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
