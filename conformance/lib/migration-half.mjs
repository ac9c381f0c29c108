// The migration half: one agent with both uplinks in phase A, its MQTT
// uplink speaking both formats (protocol: dual), against mosquitto and
// kfake, read as the platform reads it in that phase: the new consumers
// with kafkajs 2 (every record checked with the document's Zod schemas),
// the old services with MQTT.js 5 on the old topics, in the old formats
// (docs/migration.md, docs/legacy.md).
import { randomUUID } from 'node:crypto';
import mqtt from 'mqtt';
import { Kafka, logLevel } from 'kafkajs';
import { startAgent, startKfake, startMosquitto, sleep } from './procs.mjs';
import { Report } from './report.mjs';
import { until } from './stop.mjs';
import { KafkaTopics } from './topics.mjs';

// runMigration runs the agent for up to seconds (at most 20), checks that
// the same readings, by correlationId, reach both paths, that the old
// topic carries flat objects of numbers, and that an old RPC command is
// answered in the old format; it returns the Report.
export async function runMigration({ agentBin, kfakeBin, seconds, deviceId }) {
  const report = new Report('migration');
  const broker = await startMosquitto();
  const cluster = await startKfake(kfakeBin, 1);
  const kafka = new Kafka({ clientId: 'conformance-migration', brokers: cluster.brokers, logLevel: logLevel.WARN });
  const consumer = kafka.consumer({ groupId: `conformance-migration-${Date.now()}` });
  const v1 = `iot/v1/devices/${deviceId}/`;
  const old = `devices/${deviceId}/`; // the legacy topics' defaults
  const replyTopic = `conformance/legacy-replies/${deviceId}`;
  const onKafka = new Set(); // telemetry correlationIds
  const onMqtt = new Set();
  const legacyReadings = []; // the old telemetry, as received
  const replies = new Map(); // Correlation Data -> old answer, as received
  let agent;
  let client;
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [KafkaTopics.DeviceTelemetry], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ topic, message }) => {
        const msg = report.validate(topic, message.value);
        if (msg?.eventType === 'device.telemetry') onKafka.add(msg.correlationId);
      },
    });
    client = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clientId: 'conformance-migration', clean: true });
    client.on('message', (topic, payload, packet) => {
      if (topic === v1 + 'telemetry') {
        const msg = report.validate(topic, payload);
        if (msg) onMqtt.add(msg.correlationId);
      } else if (topic === old + 'telemetry') {
        legacyReadings.push(payload.toString('utf8'));
      } else if (topic === replyTopic) {
        replies.set(packet.properties?.correlationData?.toString('utf8'), payload.toString('utf8'));
      }
    });
    await client.subscribeAsync([v1 + 'telemetry', old + 'telemetry', replyTopic], { qos: 1 });

    agent = startAgent(agentBin, agentConfig(deviceId, broker.url, cluster.brokers));
    const flowing = await until(() => onKafka.size >= 5 && onMqtt.size >= 5 && legacyReadings.length >= 5, 30000);
    report.check('phase A: readings on Kafka, and on MQTT in v1 and in the old format, within 30 s', Boolean(flowing),
      `Kafka ${onKafka.size}, MQTT v1 ${onMqtt.size}, MQTT old ${legacyReadings.length}`);
    await sleep(Math.min(seconds, 20) * 1000);

    // The last reading or two may be on its way on one path only.
    const both = [...onMqtt].filter((id) => onKafka.has(id)).length;
    report.check('phase A: the same readings, by correlationId, on both paths', onMqtt.size > 0 && both >= onMqtt.size - 2,
      `${both} of the ${onMqtt.size} readings on MQTT also on Kafka (${onKafka.size} there)`);
    const notFlat = legacyReadings.filter((s) => {
      try {
        const o = JSON.parse(s);
        return typeof o !== 'object' || o === null || Array.isArray(o) || !Object.values(o).every((v) => typeof v === 'number');
      } catch {
        return true;
      }
    });
    report.check('the old telemetry is a flat JSON object of numbers', legacyReadings.length > 0 && notFlat.length === 0,
      notFlat[0] ?? `${legacyReadings.length} readings`);

    // An old RPC command: no correlationId, a timeout in milliseconds; the
    // answer goes to its Response Topic with its Correlation Data.
    const cd = randomUUID();
    await client.publishAsync(old + 'rpc/request', JSON.stringify({ method: 'getSensors', deviceId, timeout: 5000 }),
      { qos: 1, properties: { responseTopic: replyTopic, correlationData: Buffer.from(cd) } });
    const raw = await until(() => replies.get(cd), 15000);
    let answer;
    try {
      answer = JSON.parse(raw);
    } catch {
      answer = undefined;
    }
    report.check('an old RPC command answered in the old format, on its Response Topic',
      answer?.success === true && answer.method === 'getSensors' && answer.deviceId === deviceId &&
        typeof answer.result === 'object' && answer.correlationId === undefined,
      raw ?? 'no answer within 15 s');
    report.check('the agent exits 0 on SIGTERM', (await agent.stop('SIGTERM')) === 0);
  } catch (err) {
    report.check('migration half ran', false, err.stack);
  } finally {
    await client?.endAsync();
    await consumer.disconnect().catch(() => {});
    if (agent && !agent.exited) await agent.stop('SIGKILL');
    await broker.proc.stop();
    await cluster.proc.stop();
    if (report.failed() && agent) console.log(`--- agent output (migration) ---\n${agent.output()}`);
  }
  return report;
}

// agentConfig is the configuration of an agent in phase A, its MQTT
// uplink speaking both formats.
function agentConfig(deviceId, broker, brokers) {
  return `
deviceId: ${deviceId}
stateDir: STATE_DIR
log: {level: info, format: json}
uplink:
  phase: A
  mqtt:
    broker: ${broker}
    protocol: dual
    connectTimeout: 5s
    backoffMin: 100ms
    backoffMax: 1s
  kafka:
    brokers: [${brokers.map((b) => `"${b}"`).join(', ')}]
    connectTimeout: 5s
sensors:
  - {name: sim, type: sim, interval: 1s}
`;
}
