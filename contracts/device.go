package contracts

import (
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/go-json-experiment/json/jsontext"
)

// DeviceCommandRPC (device.command.rpc) asks a device to run a method.
type DeviceCommandRPC struct {
	Command
	// Payload is the body of the message: see [DeviceCommandRPCPayload].
	Payload DeviceCommandRPCPayload `json:"payload"`
}

// DeviceCommandRPCPayload is the payload of [DeviceCommandRPC].
type DeviceCommandRPCPayload struct {
	// DeviceID is the device that must run the method.
	DeviceID string `json:"deviceId"`
	// Method is the method to run.
	Method Method `json:"method"`
	// Params, when present, is a JSON object of method parameters.
	Params jsontext.Value `json:"params,omitzero" jsonschema:"object"`
	// RequestedBy is who asked: a user id, or a backend service's name.
	RequestedBy string `json:"requestedBy"`
}

// Method is an RPC method a device answers.
type Method string

// RPC methods of contract v1.
const (
	MethodGetDeviceState Method = "getDeviceState"
	MethodGetSensors     Method = "getSensors"
	MethodGetLogs        Method = "getLogs"
	MethodGetConfig      Method = "getConfig"
	MethodRestartAgent   Method = "restartAgent"
	MethodSetConfig      Method = "setConfig"
	MethodUpdateAgent    Method = "updateAgent"
)

// Values lists every method of contract v1.
func (Method) Values() []string { return slices.Clone(methods) }

var methods = []string{"getDeviceState", "getSensors", "getLogs", "getConfig", "restartAgent", "setConfig", "updateAgent"}

func (Method) members() []string { return methods }

// DeviceResponseRPC (device.response.rpc) answers a [DeviceCommandRPC]
// and carries its correlationId.
type DeviceResponseRPC struct {
	Response
	// Payload is the body of the message: see [DeviceResponseRPCPayload].
	Payload DeviceResponseRPCPayload `json:"payload"`
}

// DeviceResponseRPCPayload is the payload of [DeviceResponseRPC].
type DeviceResponseRPCPayload struct {
	// DeviceID is the device that answers.
	DeviceID string `json:"deviceId"`
	// Method echoes the command's method, even one the device does not know
	// (then the status is error, code METHOD_NOT_FOUND).
	Method string `json:"method"`
	// Result, when present, is the method's result: a JSON object, as the
	// backend's schema (z.record(z.any())) requires. A method with nothing
	// to return leaves it absent; null, an array or a scalar is refused.
	Result jsontext.Value `json:"result,omitzero" jsonschema:"object"`
	// DurationMs, when present, is how long the device took to answer, in
	// milliseconds: from receiving the command to having the answer ready.
	DurationMs float64 `json:"durationMs,omitzero" jsonschema:"minimum=0"`
}

// DeviceTelemetry (device.telemetry) carries the readings of one read of
// one or more sensors.
type DeviceTelemetry struct {
	Event
	// Payload is the body of the message: see [DeviceTelemetryPayload].
	Payload DeviceTelemetryPayload `json:"payload"`
}

// DeviceTelemetryPayload is the payload of [DeviceTelemetry].
type DeviceTelemetryPayload struct {
	// DeviceID is the device whose sensors were read.
	DeviceID string `json:"deviceId"`
	// Readings holds at least one reading.
	Readings []Reading `json:"readings" jsonschema:"minItems=1"`
}

// Reading is one metric of one sensor at one instant.
type Reading struct {
	// Sensor is the sensor's configured name.
	Sensor string `json:"sensor"`
	// Metric is what was measured ("temperature").
	Metric string `json:"metric"`
	// Value is the measured value; it must be finite.
	Value float64 `json:"value"`
	// Unit is the unit ("Cel", "%", "hPa"); it is required but may be
	// empty for a dimensionless count.
	Unit string `json:"unit" jsonschema:"allowEmpty"`
	// At is when the value was read.
	At time.Time `json:"at"`
}

// DeviceStatusChanged (device.status.changed) says a device went online
// or offline.
type DeviceStatusChanged struct {
	Event
	// Payload is the body of the message: see [DeviceStatusChangedPayload].
	Payload DeviceStatusChangedPayload `json:"payload"`
}

// DeviceStatusChangedPayload is the payload of [DeviceStatusChanged].
type DeviceStatusChangedPayload struct {
	// DeviceID is the device whose status changed.
	DeviceID string `json:"deviceId"`
	// Status is the new status.
	Status DeviceStatus `json:"status"`
	// Reason, when present, says why ("connected", "connection lost",
	// "stopped").
	Reason string `json:"reason,omitzero"`
	// Connection, when present, numbers the device's connections: it grows
	// with each connection, across restarts. It orders the statuses of one
	// device whatever the order they arrive in: a higher connection
	// outranks a lower one, and of the same connection the offline
	// outranks the online. Absent (zero) in events of agents before it.
	Connection uint64 `json:"connection,omitzero" jsonschema:"minimum=1,maximum=9007199254740991"`
}

// MaxConnection is the largest [DeviceStatusChangedPayload.Connection]:
// the largest integer a JSON number holds exactly in every language
// (JavaScript's Number.MAX_SAFE_INTEGER, 2^53-1).
const MaxConnection = 1<<53 - 1

// DeviceStatus is whether a device is connected.
type DeviceStatus string

// Device statuses.
const (
	DeviceOnline  DeviceStatus = "online"
	DeviceOffline DeviceStatus = "offline"
)

// Values lists every DeviceStatus.
func (DeviceStatus) Values() []string { return slices.Clone(deviceStatuses) }

var deviceStatuses = []string{"online", "offline"}

func (DeviceStatus) members() []string { return deviceStatuses }

// DeviceBound (device.bound) says a device was bound to a user.
type DeviceBound struct {
	Event
	// Payload is the body of the message: see [DeviceBoundPayload].
	Payload DeviceBoundPayload `json:"payload"`
}

// DeviceBoundPayload is the payload of [DeviceBound].
type DeviceBoundPayload struct {
	// DeviceID is the device concerned.
	DeviceID string `json:"deviceId"`
	// UserID is the platform user concerned.
	UserID string `json:"userId"`
	// BoundAt is when the binding was made.
	BoundAt time.Time `json:"boundAt"`
}

// DeviceUnbound (device.unbound) says a device was unbound from a user.
type DeviceUnbound struct {
	Event
	// Payload is the body of the message: see [DeviceUnboundPayload].
	Payload DeviceUnboundPayload `json:"payload"`
}

// DeviceUnboundPayload is the payload of [DeviceUnbound].
type DeviceUnboundPayload struct {
	// DeviceID is the device concerned.
	DeviceID string `json:"deviceId"`
	// UserID is the platform user concerned.
	UserID string `json:"userId"`
	// UnboundAt is when the binding was removed.
	UnboundAt time.Time `json:"unboundAt"`
}

func (*DeviceCommandRPC) eventType() EventType    { return TypeDeviceCommandRPC }
func (*DeviceResponseRPC) eventType() EventType   { return TypeDeviceResponseRPC }
func (*DeviceTelemetry) eventType() EventType     { return TypeDeviceTelemetry }
func (*DeviceStatusChanged) eventType() EventType { return TypeDeviceStatusChanged }
func (*DeviceBound) eventType() EventType         { return TypeDeviceBound }
func (*DeviceUnbound) eventType() EventType       { return TypeDeviceUnbound }

func (m *DeviceCommandRPC) payload() payload    { return &m.Payload }
func (m *DeviceResponseRPC) payload() payload   { return &m.Payload }
func (m *DeviceTelemetry) payload() payload     { return &m.Payload }
func (m *DeviceStatusChanged) payload() payload { return &m.Payload }
func (m *DeviceBound) payload() payload         { return &m.Payload }
func (m *DeviceUnbound) payload() payload       { return &m.Payload }

func (p *DeviceCommandRPCPayload) check() *Error {
	return firstError(
		requireString("payload.deviceId", p.DeviceID),
		checkMethod("payload.method", p.Method),
		checkObject("payload.params", p.Params),
		requireString("payload.requestedBy", p.RequestedBy),
	)
}

func (p *DeviceResponseRPCPayload) check() *Error {
	return firstError(
		requireString("payload.deviceId", p.DeviceID),
		requireString("payload.method", p.Method),
		checkObject("payload.result", p.Result),
		checkDuration("payload.durationMs", p.DurationMs),
	)
}

// Validate checks p as [Validate] checks the payload of a
// device.telemetry event; the error, if any, is an [*Error] naming the
// first field that is wrong.
func (p *DeviceTelemetryPayload) Validate() error {
	if err := p.check(); err != nil {
		return err
	}
	return nil
}

func (p *DeviceTelemetryPayload) check() *Error {
	if err := requireString("payload.deviceId", p.DeviceID); err != nil {
		return err
	}
	if len(p.Readings) == 0 {
		return newError(ErrRequired, "payload.readings", "required: at least one reading")
	}
	for i := range p.Readings {
		if err := p.Readings[i].check(i); err != nil {
			return err
		}
	}
	return nil
}

func (r *Reading) check(i int) *Error {
	if y := r.At.UTC().Year(); r.Sensor != "" && r.Metric != "" && y >= 1970 && y <= 9999 && !math.IsNaN(r.Value) && !math.IsInf(r.Value, 0) {
		return nil // the common case, without building paths
	}
	at := "payload.readings[" + strconv.Itoa(i) + "]."
	if math.IsNaN(r.Value) || math.IsInf(r.Value, 0) {
		return newError(ErrInvalidValue, at+"value", "not a finite number")
	}
	return firstError(
		requireString(at+"sensor", r.Sensor),
		requireString(at+"metric", r.Metric),
		requireTime(at+"at", r.At),
	)
}

func (p *DeviceStatusChangedPayload) check() *Error {
	return firstError(
		requireString("payload.deviceId", p.DeviceID),
		checkEnum("payload.status", p.Status),
		checkConnection("payload.connection", p.Connection),
	)
}

// checkConnection checks a connection number: 0 (absent) or 1 to
// [MaxConnection].
func checkConnection(path string, n uint64) *Error {
	if n > MaxConnection {
		return newError(ErrInvalidValue, path, strconv.FormatUint(n, 10)+" is more than "+strconv.FormatUint(MaxConnection, 10))
	}
	return nil
}

func (p *DeviceBoundPayload) check() *Error {
	return firstError(
		requireString("payload.deviceId", p.DeviceID),
		requireString("payload.userId", p.UserID),
		requireTime("payload.boundAt", p.BoundAt),
	)
}

func (p *DeviceUnboundPayload) check() *Error {
	return firstError(
		requireString("payload.deviceId", p.DeviceID),
		requireString("payload.userId", p.UserID),
		requireTime("payload.unboundAt", p.UnboundAt),
	)
}
