// Where the agent must publish each event type, per design.md.

// mqttSuffix is the last level of the MQTT topic of eventType:
// iot/v1/devices/{id}/{suffix}.
export function mqttSuffix(eventType) {
  if (eventType === 'device.telemetry') return 'telemetry';
  if (eventType === 'device.status.changed') return 'status';
  if (eventType === 'system.dlq') return 'dlq';
  if (eventType.includes('.command.')) return 'commands';
  if (eventType.includes('.response.')) return 'responses';
  return 'events';
}

// KafkaTopics are design.md's Kafka topics (the agent's defaults).
export const KafkaTopics = {
  DeviceCommands: 'device.commands',
  DeviceResponses: 'device.responses',
  DeviceEvents: 'device.events',
  DeviceTelemetry: 'device.telemetry',
  CertificateEvents: 'certificate.events',
  Dlq: 'dlq',
};

// kafkaTopic is the Kafka topic of eventType.
export function kafkaTopic(eventType) {
  if (eventType === 'device.telemetry') return KafkaTopics.DeviceTelemetry;
  if (eventType === 'system.dlq') return KafkaTopics.Dlq;
  if (eventType.startsWith('certificate.') && !eventType.includes('.command.')) return KafkaTopics.CertificateEvents;
  if (eventType.includes('.command.')) return KafkaTopics.DeviceCommands;
  if (eventType.includes('.response.')) return KafkaTopics.DeviceResponses;
  return KafkaTopics.DeviceEvents;
}
