// Package legacy converts, both ways, between the wire formats the
// iot-hub platform used before the v1 contract and the v1 messages of
// package contracts, so that old devices and old services keep working
// during the migration. It does no I/O.
//
// There are four legacy formats. Each Decode function reads one into a v1
// message, which it checks with [contracts.Validate] before returning it;
// each Encode function checks a v1 message and writes it in the legacy
// format. The legacy formats carry no envelope: a decoded message gets its
// source and timestamp from a [contracts.Origin], and an encoded one loses
// its correlationId, source and timestamp.
//
// # Status event
//
//	{"type":"DeviceStatusChanged","deviceId":"gw-0042","timestamp":"2026-11-27T10:15:30.123Z","payload":{"status":"online","reason":"connected"}}
//
// type must be "DeviceStatusChanged" ([ErrNotLegacy] otherwise).
// timestamp is an RFC 3339 string or, from old JavaScript producers
// (Date.now()), an integer of Unix epoch milliseconds, such as
// 1795774530123. payload.status is online or offline; payload.reason is
// optional. It is a device.status.changed event: see [DecodeStatusChanged]
// and [EncodeStatusChanged]. Encoding loses payload.connection too: the
// format has no place for it, and its consumers order a device's
// statuses by timestamp alone.
//
// # RPC command
//
//	{"method":"getSensors","deviceId":"gw-0042","timeout":5000,"params":{"fresh":true}}
//
// timeout is in milliseconds, an integer from 1000 to 30000, 5000 when
// absent. params is optional and must be an object. method must be a
// method of the contract. There is no correlationId. It is a
// device.command.rpc command: see [DecodeCommand] and [EncodeCommand].
//
// # RPC response
//
//	{"deviceId":"gw-0042","method":"getSensors","success":true,"result":{"sensors":[]}}
//	{"deviceId":"gw-0042","method":"getSensors","success":false,"error":{"code":"TIMEOUT","message":"no answer in 5000 ms"}}
//
// result is any JSON value; error is required when success is false and
// must be absent when it is true. There is no correlationId: the response
// answers the command its request was converted to. It is a
// device.response.rpc response: see [DecodeResponse] and
// [EncodeResponse].
//
// A v1 result is a JSON object or absent (the backend's schema is
// z.record(z.any())), so a legacy result maps onto it by one rule:
//
//   - an object is kept as it is: {"sensors":[]} stays {"sensors":[]};
//   - null, like an absent result, is absent;
//   - any other value v, an array, a string, a number or a boolean,
//     becomes {"value": v}: [1,2] becomes {"value":[1,2]}.
//
// Encoding writes a v1 result, an object, as it is. So v1 to legacy to v1
// is lossless, and legacy to v1 to legacy is too when the legacy result
// is an object or absent; a null result comes back absent, and a
// non-object v comes back as {"value": v}.
//
// # Plain telemetry
//
//	{"temperature":21.5,"humidity":40}
//
// A flat object published over MQTT by a simple device: each member whose
// value is a number is a reading, metric its name. The device, sensor,
// instant and units are not in it; the caller supplies them in
// [TelemetryOptions]. It is a device.telemetry event: see [DecodeTelemetry]
// and [EncodeTelemetry].
//
// # Reading rules
//
//   - The input must be exactly one JSON object. A duplicate member name
//     or invalid UTF-8 is malformed input; unknown members are ignored.
//   - A null member is the same as an absent one.
//   - An integer (a timeout, epoch milliseconds) is any JSON number with
//     an integral value: 5000, 5000.0 and 5e3 are the same.
//   - A timestamp must lie between 1970-01-01T00:00:00.000Z and
//     9999-12-31T23:59:59.999Z, in UTC: an earlier one can only be a
//     producer's bug, and v1 cannot write a later one.
//   - Decoding never panics.
//
// # Errors
//
// An error names the field, with its path in the legacy message, and the
// reason ("legacy: decode command: timeout: 50 is outside 1000..30000
// ms"). Every error matches one of the sentinels of contracts, such as
// [contracts.ErrRequired] or [contracts.ErrUnknownMethod], so that v1 and
// legacy failures can be handled alike; the sentinels of this package,
// such as [ErrNotLegacy], refine them.
package legacy
