// The Kafka half: the agent with its Kafka uplink against kfake, and the
// backend's side with kafkajs 2 as the document writes it: default
// settings, no codec package (gzip is the only one kafkajs ships), the
// default partitioner, commands sent with no key (the document's producer)
// and keyed by deviceId, by kafkajs's default partitioner and by the
// LegacyPartitioner it suggests at startup. A second agent then joins the
// cluster (lib/kafka-two.mjs).
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import { checkAnswer, Methods } from './command.mjs';
import { startKfake, sleep } from './procs.mjs';
import { Report } from './report.mjs';
import { checkStop, until } from './stop.mjs';
import { KafkaTopics } from './topics.mjs';
import { ANSWER_MS, newBackend, received } from './kafka-backend.mjs';
import { startKafkaAgent, secondAgent } from './kafka-two.mjs';

// runKafka runs the agent for seconds, validates every record it writes to
// its topics, asks it RPCs on device.commands, keyless and keyed, waits
// for each answer on device.responses by correlationId, runs a second
// agent beside it, and stops it; it returns the Report.
export async function runKafka({ agentBin, kfakeBin, seconds, commandPartitions, deviceId, example }) {
  const report = new Report('kafka');
  const cluster = await startKfake(kfakeBin, commandPartitions);
  const kafka = new Kafka({ clientId: 'conformance-backend', brokers: cluster.brokers, logLevel: logLevel.WARN });
  const consumer = kafka.consumer({ groupId: `conformance-${Date.now()}` });
  const producer = kafka.producer();
  const legacyProducer = kafka.producer({ createPartitioner: Partitioners.LegacyPartitioner });
  const backend = newBackend({ kafka, producer, legacyProducer, report, example, deviceId });
  let agent;
  try {
    consumer.on(consumer.events.CRASH, (e) => { backend.crash = e.payload.error; });
    await consumer.connect();
    await producer.connect();
    await legacyProducer.connect();
    const topics = [KafkaTopics.DeviceResponses, KafkaTopics.DeviceEvents, KafkaTopics.DeviceTelemetry,
      KafkaTopics.CertificateEvents, KafkaTopics.Dlq];
    await consumer.subscribe({ topics, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ topic, message }) => received(backend, topic, message) });

    agent = await startKafkaAgent(agentBin, deviceId, cluster.brokers, 'all');
    const statuses = backend.statuses.get(deviceId);

    const first = await until(() => backend.crash || report.valid.size > 0, 30000);
    report.check('kafkajs reads the agent\'s records within 30 s', Boolean(first) && !backend.crash,
      backend.crash ? `consumer crashed: ${backend.crash}` : '');
    // The agent reads its commands partition from the end it finds when it
    // has looked the partition up; the first keyed command is repeated
    // until answered, as cmd/agent's Kafka e2e test does, to wait for that.
    // A crashed consumer reads no answers: the command checks are left out.
    let warm;
    for (let i = 0; i < 6 && !warm?.answer && !backend.crash; i++) warm = await backend.ask(deviceId, 'getDeviceState', 'keyed');
    report.check('a keyed command answered once the agent reads its partition', Boolean(warm?.answer));

    const started = Date.now();
    const kinds = ['keyless', 'keyed', 'keyed-legacy'];
    const asked = Object.fromEntries(kinds.map((k) => [k, 0]));
    const answeredOK = { ...asked };
    for (let i = 0; !backend.crash && Date.now() - started < seconds * 1000; i++) {
      for (const kind of kinds) {
        const { cmd, answer } = await backend.ask(deviceId, Methods[i % Methods.length], kind);
        asked[kind]++;
        const wrong = answer ? checkAnswer(cmd, answer) : `no answer within ${ANSWER_MS} ms`;
        if (wrong) report.check(`${kind} ${cmd.payload.method} ${cmd.correlationId} answered`, false, wrong);
        else answeredOK[kind]++;
      }
      await sleep(Math.min(5000, Math.max(0, seconds * 1000 - (Date.now() - started))));
    }
    for (const kind of kinds) {
      report.check(`every ${kind} command answered on ${KafkaTopics.DeviceResponses} (${commandPartitions} commands partition(s))`,
        asked[kind] > 0 && answeredOK[kind] === asked[kind], `${answeredOK[kind]}/${asked[kind]}`);
    }
    report.check('telemetry received', (report.valid.get('device.telemetry') ?? 0) > 0);
    report.check('status online received', statuses.some((s) => s.payload.status === 'online'));

    if (!backend.crash) await secondAgent(backend, { agentBin, brokers: cluster.brokers, first: agent, deviceId });

    report.check('kafkajs consumer did not crash', !backend.crash, backend.crash ? String(backend.crash) : '');
    const online = statuses.find((s) => s.payload.status === 'online');
    await checkStop(report, agent.proc, statuses, online, example.outranks);
  } catch (err) {
    report.check('kafka half ran', false, err.stack);
  } finally {
    await consumer.disconnect().catch(() => {});
    await producer.disconnect().catch(() => {});
    await legacyProducer.disconnect().catch(() => {});
    if (agent && !agent.proc.exited) await agent.proc.stop('SIGKILL');
    await cluster.proc.stop();
    if (report.failed() && agent) console.log(`--- agent output (kafka) ---\n${agent.proc.output()}`);
  }
  return report;
}
