package legacy

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/iot-hub/agent/contracts"
	"github.com/iot-hub/agent/contracts/internal/jsonkind"
)

// statusType is the type member of every legacy status event.
const statusType = "DeviceStatusChanged"

// The instants a legacy timestamp may hold: from the Unix epoch to the last
// millisecond RFC 3339 can write.
var (
	minTime = time.UnixMilli(0).UTC()
	maxTime = time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC)
)

// timeRange names the instants a timestamp may hold, for error messages.
const timeRange = "1970-01-01T00:00:00.000Z..9999-12-31T23:59:59.999Z"

// DecodeStatusChanged converts a legacy status event into a
// device.status.changed event. The event gets a new correlationId and its
// source from o; its timestamp is the legacy timestamp, in UTC, truncated
// to the millisecond. The error names the first wrong field; a type member
// other than "DeviceStatusChanged" gives [ErrNotLegacy].
func DecodeStatusChanged(data []byte, o contracts.Origin) (*contracts.DeviceStatusChanged, error) {
	m, err := decodeStatus(data, o)
	if err != nil {
		return nil, fmt.Errorf("legacy: decode status: %w", err)
	}
	return m, nil
}

func decodeStatus(data []byte, o contracts.Origin) (*contracts.DeviceStatusChanged, error) {
	var r reader
	obj := r.object("", data)
	r.checkType(obj["type"])
	deviceID := r.requiredString("deviceId", obj["deviceId"])
	at := r.timestamp("timestamp", obj["timestamp"])
	payload := r.object("payload", obj["payload"])
	status := contracts.DeviceStatus(r.requiredString("payload.status", payload["status"]))
	if r.err == nil && !slices.Contains(status.Values(), string(status)) {
		r.fail(newError(contracts.ErrInvalidValue, "payload.status",
			strconv.Quote(string(status))+" is not one of "+strings.Join(status.Values(), ", ")))
	}
	reason := r.string("payload.reason", payload["reason"])
	if r.err != nil {
		return nil, r.err
	}
	m := contracts.NewDeviceStatusChanged(o, contracts.DeviceStatusChangedPayload{DeviceID: deviceID, Status: status, Reason: reason})
	m.Timestamp = at
	if err := contracts.Validate(m); err != nil {
		return nil, err
	}
	return m, nil
}

// checkType requires v, the type member, to be "DeviceStatusChanged".
func (r *reader) checkType(v jsontext.Value) {
	got := "nothing"
	if len(v) > 0 {
		got = jsonkind.Name(v.Kind())
	}
	if v.Kind() == '"' {
		s := r.string("type", v)
		if s == statusType {
			return
		}
		got = strconv.Quote(s)
	}
	r.fail(newError(ErrNotLegacy, "type", "want "+strconv.Quote(statusType)+", got "+got))
}

// timestamp reads v, the required member at path, as an RFC 3339 string
// or an integer of Unix epoch milliseconds, and returns it in UTC,
// truncated to the millisecond.
func (r *reader) timestamp(path string, v jsontext.Value) time.Time {
	switch k := v.Kind(); {
	case r.err != nil:
	case !present(v):
		r.fail(errRequired(path))
	case k == '"':
		var t time.Time
		if err := json.Unmarshal(v, &t); err != nil {
			r.fail(newError(contracts.ErrInvalidValue, path, "not an RFC 3339 date-time: "+cause(err)))
			return time.Time{}
		}
		t = t.UTC().Truncate(time.Millisecond)
		if t.Before(minTime) || t.After(maxTime) {
			r.fail(errTimeRange(path, string(v)))
			return time.Time{}
		}
		return t
	case k == '0':
		ms, ok := parseNumber(v)
		switch {
		case ok && ms != math.Trunc(ms):
			r.fail(newError(contracts.ErrInvalidValue, path, string(v)+" is not an integer number of milliseconds"))
		case !ok || ms < 0 || ms > float64(maxTime.UnixMilli()):
			r.fail(errTimeRange(path, string(v)))
		default:
			return time.UnixMilli(int64(ms)).UTC()
		}
	default:
		r.fail(errWrongKind(path, "RFC 3339 string or integer of epoch milliseconds", k))
	}
	return time.Time{}
}

func errTimeRange(path, text string) *fieldError {
	return newError(contracts.ErrInvalidValue, path, text+" is outside "+timeRange)
}

// statusWire is a legacy status event as written.
type statusWire struct {
	Type      string            `json:"type"`
	DeviceID  string            `json:"deviceId"`
	Timestamp string            `json:"timestamp"`
	Payload   statusPayloadWire `json:"payload"`
}

type statusPayloadWire struct {
	Status contracts.DeviceStatus `json:"status"`
	Reason string                 `json:"reason,omitzero"`
}

// EncodeStatusChanged converts a device.status.changed event, which must
// be valid, into a legacy status event, its timestamp written as RFC 3339
// in UTC with milliseconds; a timestamp before 1970 or after 9999 is an
// error, as contracts.Validate has it. The correlationId, the source and
// payload.connection are lost: the legacy format has no place for them,
// and its consumers order a device's statuses by timestamp alone.
func EncodeStatusChanged(m *contracts.DeviceStatusChanged) ([]byte, error) {
	b, err := encodeStatus(m)
	if err != nil {
		return nil, fmt.Errorf("legacy: encode status: %w", err)
	}
	return b, nil
}

func encodeStatus(m *contracts.DeviceStatusChanged) ([]byte, error) {
	if err := contracts.Validate(m); err != nil {
		return nil, err
	}
	ts := m.Timestamp.UTC().Format(contracts.TimeLayout)
	return marshal(statusWire{
		Type:      statusType,
		DeviceID:  m.Payload.DeviceID,
		Timestamp: ts,
		Payload:   statusPayloadWire{Status: m.Payload.Status, Reason: m.Payload.Reason},
	})
}
