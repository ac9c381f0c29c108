package legacy

import (
	"fmt"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/iot-hub/agent/contracts"
)

// DecodeResponse converts a legacy RPC response into a device.response.rpc
// response to cmd, the header of the command the legacy request was
// converted to (see [DecodeCommand]): it carries cmd's correlationId, and
// its source and timestamp come from o. success true gives status success;
// success false gives status error with the code and message of the
// legacy error, which are required. Either way the result is kept as v1
// allows it, an object or nothing (see [resultObject]).
func DecodeResponse(data []byte, o contracts.Origin, cmd *contracts.Envelope) (*contracts.DeviceResponseRPC, error) {
	m, err := decodeResponse(data, o, cmd)
	if err != nil {
		return nil, fmt.Errorf("legacy: decode response: %w", err)
	}
	return m, nil
}

func decodeResponse(data []byte, o contracts.Origin, cmd *contracts.Envelope) (*contracts.DeviceResponseRPC, error) {
	if cmd == nil {
		return nil, newError(contracts.ErrRequired, "cmd", "required: the header of the command answered")
	}
	var r reader
	obj := r.object("", data)
	p := contracts.DeviceResponseRPCPayload{
		DeviceID: r.requiredString("deviceId", obj["deviceId"]),
		Method:   r.requiredString("method", obj["method"]),
		Result:   resultObject(obj["result"]),
	}
	success := r.boolean("success", obj["success"])
	var info contracts.ErrorInfo
	switch e := obj["error"]; {
	case r.err != nil:
	case success && present(e):
		r.fail(newError(contracts.ErrInvalidValue, "error", "must be absent when success is true"))
	case !success && !present(e):
		r.fail(newError(contracts.ErrRequired, "error", "required when success is false"))
	case !success:
		members := r.object("error", e)
		info.Code = r.requiredString("error.code", members["code"])
		info.Message = r.requiredString("error.message", members["message"])
	}
	if r.err != nil {
		return nil, r.err
	}
	var m *contracts.DeviceResponseRPC
	if success {
		m = contracts.NewDeviceResponseRPC(o, cmd, p)
	} else {
		m = contracts.NewDeviceResponseRPCError(o, cmd, p, info.Code, info.Message)
	}
	if err := contracts.Validate(m); err != nil {
		return nil, err
	}
	return m, nil
}

// resultObject maps a legacy result, any JSON value, onto a v1 result,
// which is a JSON object or absent: an object is kept as it is, null is
// absent, and any other value v becomes {"value": v}.
func resultObject(v jsontext.Value) jsontext.Value {
	switch {
	case !present(v):
		return nil
	case v.Kind() == '{':
		return v
	}
	wrapped := append([]byte(`{"value":`), v...)
	return append(wrapped, '}')
}

// responseWire is a legacy RPC response as written.
type responseWire struct {
	DeviceID string               `json:"deviceId"`
	Method   string               `json:"method"`
	Success  bool                 `json:"success"`
	Result   jsontext.Value       `json:"result,omitzero"`
	Error    *contracts.ErrorInfo `json:"error,omitzero"`
}

// EncodeResponse converts a device.response.rpc response, which must be
// valid, into a legacy RPC response: status success is success true,
// status error is success false with the error's code and message, and
// result, an object, is kept as it is. The correlationId, the source and
// the timestamp are lost.
func EncodeResponse(m *contracts.DeviceResponseRPC) ([]byte, error) {
	b, err := encodeResponse(m)
	if err != nil {
		return nil, fmt.Errorf("legacy: encode response: %w", err)
	}
	return b, nil
}

func encodeResponse(m *contracts.DeviceResponseRPC) ([]byte, error) {
	if err := contracts.Validate(m); err != nil {
		return nil, err
	}
	return marshal(responseWire{
		DeviceID: m.Payload.DeviceID,
		Method:   m.Payload.Method,
		Success:  m.Status == contracts.StatusSuccess,
		Result:   m.Payload.Result,
		Error:    m.Error,
	})
}
