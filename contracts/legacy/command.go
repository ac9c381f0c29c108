package legacy

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/iot-hub/agent/contracts"
)

// Timeouts of a legacy command, which the wire writes in milliseconds.
const (
	// DefaultTimeout is the timeout of a legacy command without one.
	DefaultTimeout = 5 * time.Second
	// MinTimeout is the shortest timeout a legacy command may have.
	MinTimeout = 1 * time.Second
	// MaxTimeout is the longest timeout a legacy command may have.
	MaxTimeout = 30 * time.Second
)

// RequestedBy is the requestedBy of every command converted from the
// legacy format, which does not say who asked.
const RequestedBy = "legacy"

// timeoutLimits names the timeouts allowed, for error messages.
var timeoutLimits = strconv.FormatInt(MinTimeout.Milliseconds(), 10) + ".." +
	strconv.FormatInt(MaxTimeout.Milliseconds(), 10) + " ms"

// DecodeCommand converts a legacy RPC command into a device.command.rpc
// command. The command gets a new correlationId, its source and timestamp
// from o, expiresAt o.Now() plus the timeout ([DefaultTimeout] when
// absent) and requestedBy [RequestedBy]. A method the contract does not
// define gives an error that matches [contracts.ErrUnknownMethod]; a
// timeout that is not an integer in 1000..30000 is an error.
func DecodeCommand(data []byte, o contracts.Origin) (*contracts.DeviceCommandRPC, error) {
	m, err := decodeCommand(data, o)
	if err != nil {
		return nil, fmt.Errorf("legacy: decode command: %w", err)
	}
	return m, nil
}

func decodeCommand(data []byte, o contracts.Origin) (*contracts.DeviceCommandRPC, error) {
	var r reader
	obj := r.object("", data)
	method := contracts.Method(r.requiredString("method", obj["method"]))
	if r.err == nil && !slices.Contains(method.Values(), string(method)) {
		r.fail(newError(contracts.ErrUnknownMethod, "method",
			strconv.Quote(string(method))+" is not one of "+strings.Join(method.Values(), ", ")))
	}
	deviceID := r.requiredString("deviceId", obj["deviceId"])
	timeout := r.timeout(obj["timeout"])
	params := r.rawObject("params", obj["params"])
	if r.err != nil {
		return nil, r.err
	}
	m := contracts.NewDeviceCommandRPC(o, contracts.DeviceCommandRPCPayload{
		DeviceID:    deviceID,
		Method:      method,
		Params:      params,
		RequestedBy: RequestedBy,
	}, timeout)
	if err := contracts.Validate(m); err != nil {
		return nil, err
	}
	return m, nil
}

// timeout reads v, the timeout member: absent (or null) is
// [DefaultTimeout]; otherwise an integer number of milliseconds between
// [MinTimeout] and [MaxTimeout]. An integer is any number with an integral
// value: 5000, 5000.0 and 5e3 are the same.
func (r *reader) timeout(v jsontext.Value) time.Duration {
	switch k := v.Kind(); {
	case r.err != nil:
	case !present(v):
		return DefaultTimeout
	case k != '0':
		r.fail(errWrongKind("timeout", "integer number of milliseconds in "+timeoutLimits, k))
	default:
		ms, ok := parseNumber(v)
		switch {
		case ok && ms != math.Trunc(ms):
			r.fail(newError(contracts.ErrInvalidValue, "timeout", string(v)+" is not an integer number of milliseconds in "+timeoutLimits))
		case !ok || ms < float64(MinTimeout.Milliseconds()) || ms > float64(MaxTimeout.Milliseconds()):
			r.fail(newError(contracts.ErrInvalidValue, "timeout", string(v)+" is outside "+timeoutLimits))
		default:
			return time.Duration(ms) * time.Millisecond
		}
	}
	return 0
}

// commandWire is a legacy RPC command as written.
type commandWire struct {
	Method   contracts.Method `json:"method"`
	DeviceID string           `json:"deviceId"`
	Timeout  int64            `json:"timeout"`
	Params   jsontext.Value   `json:"params,omitzero"`
}

// EncodeCommand converts a device.command.rpc command, which must be
// valid, into a legacy RPC command. Its timeout is the time left at now
// until expiresAt, in milliseconds rounded up and clamped into 1000..30000
// (the legacy format can say neither less nor more); a command without
// expiresAt gets [DefaultTimeout]. A command expired at now is an
// [ErrExpired] error. The correlationId, the source, the timestamp and
// requestedBy are lost.
func EncodeCommand(m *contracts.DeviceCommandRPC, now time.Time) ([]byte, error) {
	b, err := encodeCommand(m, now)
	if err != nil {
		return nil, fmt.Errorf("legacy: encode command: %w", err)
	}
	return b, nil
}

func encodeCommand(m *contracts.DeviceCommandRPC, now time.Time) ([]byte, error) {
	if err := contracts.Validate(m); err != nil {
		return nil, err
	}
	if m.Expired(now) {
		return nil, newError(ErrExpired, "expiresAt", "expired at "+m.ExpiresAt.UTC().Format(contracts.TimeLayout)+
			", before "+now.UTC().Format(contracts.TimeLayout))
	}
	timeout := DefaultTimeout.Milliseconds()
	if !m.ExpiresAt.IsZero() {
		left := m.ExpiresAt.Sub(now)
		timeout = left.Milliseconds()
		if left%time.Millisecond != 0 {
			timeout++ // round up: the device never gives up before expiresAt
		}
		timeout = min(max(timeout, MinTimeout.Milliseconds()), MaxTimeout.Milliseconds())
	}
	return marshal(commandWire{
		Method:   m.Payload.Method,
		DeviceID: m.Payload.DeviceID,
		Timeout:  timeout,
		Params:   m.Payload.Params,
	})
}
