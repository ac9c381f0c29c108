// The platform backend's message schemas, in Zod 3, as the backend writes
// them. Two sources, named on every schema:
//
//   [doc]    the platform's design document ("Миграция на Kafka Event-Driven
//            архитектуру", the library @iot-hub/contracts-kafka), transcribed
//            as written, including its quirks (result is z.record, an object);
//   [design] the agent's design.md, "Wire contract (v1)": the helper schemas
//            the document uses but does not show (CorrelationIdSchema, ...),
//            and the payloads of the event types it lists without code.
//
// Like the document's, every object schema is a plain z.object: unknown keys
// are stripped, not refused, so a field the agent adds (durationMs) passes.
import { z } from 'zod';

// --- Helpers the document uses without defining them [design] ---

// [design] correlationId: a UUID.
export const CorrelationIdSchema = z.string().uuid();
// [design] timestamp: RFC 3339 UTC with milliseconds. The document's own
// DeviceStatusChangedSchema writes timestamps as z.string().datetime(),
// which accepts UTC ("Z") only.
export const TimestampSchema = z.string().datetime();
// [design] source: {type: device|backend|bridge|integration|user, id: non-empty}.
export const EventSourceSchema = z.object({
  type: z.enum(['device', 'backend', 'bridge', 'integration', 'user']),
  id: z.string().min(1),
});
// [design] ids are non-empty strings.
export const DeviceIdSchema = z.string().min(1);
export const UserIdSchema = z.string().min(1);

// --- Bases ---

// [doc] "Базовая схема событий", as written.
export const BaseKafkaEventSchema = z.object({
  eventType: z.string(),
  correlationId: CorrelationIdSchema,
  timestamp: TimestampSchema,
  source: EventSourceSchema,
  __version: z.string().default('v1'),
});

// [doc] named (DeviceRpcCommandSchema extends it); fields [design]:
// commands may carry expiresAt.
export const BaseKafkaCommandSchema = BaseKafkaEventSchema.extend({
  expiresAt: TimestampSchema.optional(),
});

// [doc] named (DeviceBoundEventSchema extends it); [design] adds nothing.
export const BaseDomainEventSchema = BaseKafkaEventSchema;

// [doc] named (DeviceRpcResponseSchema extends it); fields [design]:
// status success|error and, on error, error {code, message}.
export const BaseKafkaResponseSchema = BaseKafkaEventSchema.extend({
  status: z.enum(['success', 'error']),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});

// --- Device commands and responses ---

// [doc] as written; params [design] (the document has none, so Zod
// strips it).
export const DeviceRpcCommandSchema = BaseKafkaCommandSchema.extend({
  eventType: z.literal('device.command.rpc'),
  payload: z.object({
    deviceId: DeviceIdSchema,
    method: z.enum(['getDeviceState', 'getSensors']),
    requestedBy: UserIdSchema,
  }),
});

// [doc] as written: result is an object or absent. method [design] is not
// in the document's payload, so Zod strips it.
export const DeviceRpcResponseSchema = BaseKafkaResponseSchema.extend({
  eventType: z.literal('device.response.rpc'),
  payload: z.object({
    deviceId: DeviceIdSchema,
    result: z.record(z.any()).optional(),
  }),
});

// --- Device events ---

// [doc] as written.
export const DeviceBoundEventSchema = BaseDomainEventSchema.extend({
  eventType: z.literal('device.bound'),
  payload: z.object({
    deviceId: DeviceIdSchema,
    userId: UserIdSchema,
    boundAt: z.string().datetime(),
  }),
});

// [design] device.unbound {deviceId, userId, unboundAt}.
export const DeviceUnboundEventSchema = BaseDomainEventSchema.extend({
  eventType: z.literal('device.unbound'),
  payload: z.object({
    deviceId: DeviceIdSchema,
    userId: UserIdSchema,
    unboundAt: z.string().datetime(),
  }),
});

// [design] device.telemetry {deviceId, readings[{sensor, metric, value,
// unit, at}]}.
export const DeviceTelemetryEventSchema = BaseDomainEventSchema.extend({
  eventType: z.literal('device.telemetry'),
  payload: z.object({
    deviceId: DeviceIdSchema,
    readings: z.array(z.object({
      sensor: z.string().min(1),
      metric: z.string().min(1),
      value: z.number(),
      unit: z.string(),
      at: z.string().datetime(),
    })).min(1),
  }),
});

// [design] device.status.changed {deviceId, status: online|offline,
// reason?}. The document shows only its legacy DeviceStatusChangedSchema
// (type, deviceId, timestamp, payload {...}), as the problem the new base
// schema solves, so the new one is design.md's.
export const DeviceStatusChangedEventSchema = BaseDomainEventSchema.extend({
  eventType: z.literal('device.status.changed'),
  payload: z.object({
    deviceId: DeviceIdSchema,
    status: z.enum(['online', 'offline']),
    reason: z.string().optional(),
    // [design] the connection number that orders a device's statuses:
    // the higher wins; for the same one, offline beats online.
    connection: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
  }),
});

// --- Certificates [design] ---

// [design] certificate.command.rotate {deviceId, reason?}.
export const CertificateRotateCommandSchema = BaseKafkaCommandSchema.extend({
  eventType: z.literal('certificate.command.rotate'),
  payload: z.object({ deviceId: DeviceIdSchema, reason: z.string().optional() }),
});

// [design] certificate.csr.created {deviceId, csrPem, reason, currentSerial?}.
export const CertificateCsrCreatedEventSchema = BaseDomainEventSchema.extend({
  eventType: z.literal('certificate.csr.created'),
  payload: z.object({
    deviceId: DeviceIdSchema,
    csrPem: z.string().min(1),
    reason: z.string(),
    currentSerial: z.string().optional(),
  }),
});

// [design] certificate.issued {deviceId, certificatePem, chainPem?,
// serialNumber, notAfter}.
export const CertificateIssuedEventSchema = BaseDomainEventSchema.extend({
  eventType: z.literal('certificate.issued'),
  payload: z.object({
    deviceId: DeviceIdSchema,
    certificatePem: z.string().min(1),
    chainPem: z.string().optional(),
    serialNumber: z.string().min(1),
    notAfter: z.string().datetime(),
  }),
});

// [design] certificate.installed {deviceId, serialNumber, notAfter,
// previousSerial?}.
export const CertificateInstalledEventSchema = BaseDomainEventSchema.extend({
  eventType: z.literal('certificate.installed'),
  payload: z.object({
    deviceId: DeviceIdSchema,
    serialNumber: z.string().min(1),
    notAfter: z.string().datetime(),
    previousSerial: z.string().optional(),
  }),
});

// [design] certificate.rotation.failed {deviceId, reason, serialNumber?}.
export const CertificateRotationFailedEventSchema = BaseDomainEventSchema.extend({
  eventType: z.literal('certificate.rotation.failed'),
  payload: z.object({
    deviceId: DeviceIdSchema,
    reason: z.string(),
    serialNumber: z.string().optional(),
  }),
});

// --- Users, integrations, dead letters [design] ---

// [design] user.created, user.updated, user.deleted {userId, ...}.
/** @template {'user.created' | 'user.updated' | 'user.deleted'} T @param {T} type */
const userEvent = (type) => BaseDomainEventSchema.extend({
  eventType: z.literal(type),
  payload: z.object({ userId: UserIdSchema }).passthrough(),
});
export const UserCreatedEventSchema = userEvent('user.created');
export const UserUpdatedEventSchema = userEvent('user.updated');
export const UserDeletedEventSchema = userEvent('user.deleted');

// [design] integration.mqtt.received {topic, payload, qos, receivedAt}.
export const IntegrationMqttReceivedEventSchema = BaseDomainEventSchema.extend({
  eventType: z.literal('integration.mqtt.received'),
  payload: z.object({
    topic: z.string().min(1),
    payload: z.any(),
    qos: z.number().int().min(0).max(2),
    receivedAt: z.string().datetime(),
  }),
});

// [design] system.dlq {reason, originalTopic, raw (base64 when not UTF-8),
// error}.
export const SystemDlqEventSchema = BaseDomainEventSchema.extend({
  eventType: z.literal('system.dlq'),
  payload: z.object({
    reason: z.string().min(1),
    originalTopic: z.string(),
    raw: z.string(),
    error: z.string(),
  }),
});

// [doc] AllKafkaMessageSchemas: the union a consumer parses every message
// with ("Валидация входящих событий"); its members are the schemas above.
export const AllKafkaMessageSchemas = z.discriminatedUnion('eventType', [
  DeviceRpcCommandSchema,
  DeviceRpcResponseSchema,
  DeviceBoundEventSchema,
  DeviceUnboundEventSchema,
  DeviceTelemetryEventSchema,
  DeviceStatusChangedEventSchema,
  CertificateRotateCommandSchema,
  CertificateCsrCreatedEventSchema,
  CertificateIssuedEventSchema,
  CertificateInstalledEventSchema,
  CertificateRotationFailedEventSchema,
  UserCreatedEventSchema,
  UserUpdatedEventSchema,
  UserDeletedEventSchema,
  IntegrationMqttReceivedEventSchema,
  SystemDlqEventSchema,
]);

// parseMessage validates a message's bytes as the document's consumer
// does: JSON, AllKafkaMessageSchemas.parse, then the version rule
// ("Unsupported version"). It returns the parsed message or throws an
// Error saying what is wrong.
export function parseMessage(bytes) {
  let json;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new Error(`not JSON: ${err.message}`);
  }
  const event = AllKafkaMessageSchemas.parse(json);
  if (event.__version !== 'v1') {
    throw new Error(`Unsupported version: ${event.__version}`);
  }
  return event;
}
