// The backend's side of the Kafka half, shared by both agents' checks:
// the record checks of its consumer, and sending commands.
import { rpcCommand } from './command.mjs';
import { sleep } from './procs.mjs';
import { KafkaTopics, kafkaTopic } from './topics.mjs';

// ANSWER_MS is how long a command's answer is waited for.
export const ANSWER_MS = 15000;

// newBackend returns what the checks share: the clients, the answers
// awaited and received, the statuses by device.
export function newBackend({ kafka, producer, legacyProducer, report, example, deviceId }) {
  const backend = {
    kafka, producer, legacyProducer, report, example,
    waiters: new Map(), // correlationId -> resolve(parsed answer)
    answers: new Map(), // correlationId -> how many answers came
    statuses: new Map([[deviceId, []]]), // deviceId -> device.status.changed events, in order
    devices: new Set([deviceId]),
    crash: undefined,
  };
  backend.ask = (device, method, kind) => ask(backend, device, method, kind);
  return backend;
}

// received validates a record the backend's consumer read, checks its
// topic, key and headers, and files statuses and answers.
export function received(backend, topic, message) {
  const { report } = backend;
  const msg = report.validate(topic, message.value);
  if (!msg) return;
  const want = kafkaTopic(msg.eventType);
  if (topic !== want) report.check(`${msg.eventType} on its topic`, false, `on ${topic}, want ${want}`);
  const device = msg.source.id;
  if (msg.source.type !== 'device' || !backend.devices.has(device)) {
    report.check(`${msg.eventType} from one of the agents`, false, `source ${msg.source.type}/${device}`);
  }
  if (message.key?.toString() !== device) {
    report.check(`${msg.eventType} keyed by the deviceId`, false, `key ${message.key}, source ${device}`);
  }
  const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, v?.toString()]));
  for (const h of ['eventType', 'correlationId', '__version']) {
    if (headers[h] !== msg[h]) report.check(`${msg.eventType} header ${h}`, false, `${headers[h]}, body ${msg[h]}`);
  }
  if (msg.eventType === 'device.status.changed') {
    if (!backend.statuses.has(device)) backend.statuses.set(device, []);
    backend.statuses.get(device).push(msg);
  }
  if (msg.eventType === 'device.response.rpc') {
    backend.answers.set(msg.correlationId, (backend.answers.get(msg.correlationId) ?? 0) + 1);
    backend.waiters.get(msg.correlationId)?.(msg);
  }
}

// send sends an RPC for device of kind keyless, keyed (default
// partitioner) or keyed-legacy (LegacyPartitioner) and returns {cmd,
// partition, answered}: answered resolves to the answer when it comes.
export async function send(backend, device, method, kind) {
  const cmd = rpcCommand(device, method);
  const answered = new Promise((resolve) => backend.waiters.set(cmd.correlationId, resolve));
  const message = kind === 'keyless' ? { value: JSON.stringify(cmd) } : { key: device, value: JSON.stringify(cmd) };
  const [meta] = await (kind === 'keyed-legacy' ? backend.legacyProducer : backend.producer)
    .send({ topic: KafkaTopics.DeviceCommands, messages: [message] });
  return { cmd, partition: meta.partition, answered };
}

// ask sends an RPC and resolves to {cmd, partition, answer}, answer
// undefined when none came within ANSWER_MS.
async function ask(backend, device, method, kind) {
  const { cmd, partition, answered } = await send(backend, device, method, kind);
  const answer = await Promise.race([answered, sleep(ANSWER_MS)]);
  backend.waiters.delete(cmd.correlationId);
  return { cmd, partition, answer };
}
