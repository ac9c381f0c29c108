// The commands the suite sends, made as the document's backend makes
// them: through its Zod schema, with no expiresAt (the document has none).
import { randomUUID } from 'node:crypto';
import { DeviceRpcCommandSchema } from '@iot-hub/contracts-kafka';

// rpcCommand returns a device.command.rpc for deviceId asking method.
export function rpcCommand(deviceId, method) {
  return DeviceRpcCommandSchema.parse({
    eventType: 'device.command.rpc',
    correlationId: randomUUID(),
    timestamp: new Date().toISOString(),
    source: { type: 'backend', id: 'conformance' },
    payload: { deviceId, method, requestedBy: 'conformance' },
  });
}

// Methods are the methods the suite asks, in turn.
export const Methods = ['getDeviceState', 'getSensors'];

// checkAnswer returns what is wrong with answer (a parsed
// device.response.rpc) as the answer to cmd, or '' when nothing is.
export function checkAnswer(cmd, answer) {
  if (answer.eventType !== 'device.response.rpc') return `eventType ${answer.eventType}`;
  if (answer.correlationId !== cmd.correlationId) return `correlationId ${answer.correlationId}, want ${cmd.correlationId}`;
  if (answer.status !== 'success') return `status ${answer.status}: ${JSON.stringify(answer.error)}`;
  if (answer.payload.deviceId !== cmd.payload.deviceId) return `deviceId ${answer.payload.deviceId}`;
  if (answer.source.type !== 'device' || answer.source.id !== cmd.payload.deviceId) return `source ${answer.source.type}/${answer.source.id}`;
  return '';
}
