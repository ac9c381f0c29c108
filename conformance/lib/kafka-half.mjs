// The Kafka half: the agent with its Kafka uplink against kfake, and the
// backend's side with kafkajs 2 as the document writes it: default
// settings, no codec package (gzip is the only one kafkajs ships), the
// default partitioner, commands sent with no key (the document's producer)
// and keyed by deviceId, by kafkajs's default partitioner and by the
// LegacyPartitioner it suggests at startup.
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import { rpcCommand, checkAnswer, Methods } from './command.mjs';
import { startAgent, startKfake, sleep } from './procs.mjs';
import { Report } from './report.mjs';
import { checkStop, until } from './stop.mjs';
import { KafkaTopics, kafkaTopic } from './topics.mjs';

const ANSWER_MS = 15000;

// runKafka runs the agent for seconds, validates every record it writes to
// its topics, asks it RPCs on device.commands, keyless and keyed, waits
// for each answer on device.responses by correlationId, and stops it; it
// returns the Report.
export async function runKafka({ agentBin, kfakeBin, seconds, commandPartitions, deviceId }) {
  const report = new Report('kafka');
  const cluster = await startKfake(kfakeBin, commandPartitions);
  const kafka = new Kafka({ clientId: 'conformance-backend', brokers: cluster.brokers, logLevel: logLevel.WARN });
  const consumer = kafka.consumer({ groupId: `conformance-${Date.now()}` });
  const producer = kafka.producer();
  const legacyProducer = kafka.producer({ createPartitioner: Partitioners.LegacyPartitioner });
  const waiters = new Map(); // correlationId -> resolve(parsed answer)
  const statuses = [];
  let crash;
  let agent;
  try {
    consumer.on(consumer.events.CRASH, (e) => { crash = e.payload.error; });
    await consumer.connect();
    await producer.connect();
    await legacyProducer.connect();
    const topics = [KafkaTopics.DeviceResponses, KafkaTopics.DeviceEvents, KafkaTopics.DeviceTelemetry,
      KafkaTopics.CertificateEvents, KafkaTopics.Dlq];
    await consumer.subscribe({ topics, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ topic, message }) => {
        const msg = report.validate(topic, message.value);
        if (!msg) return;
        const want = kafkaTopic(msg.eventType);
        if (topic !== want) report.check(`${msg.eventType} on its topic`, false, `on ${topic}, want ${want}`);
        if (message.key?.toString() !== deviceId) {
          report.check(`${msg.eventType} keyed by the deviceId`, false, `key ${message.key}`);
        }
        const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, v?.toString()]));
        for (const h of ['eventType', 'correlationId', '__version']) {
          if (headers[h] !== msg[h]) report.check(`${msg.eventType} header ${h}`, false, `${headers[h]}, body ${msg[h]}`);
        }
        if (msg.eventType === 'device.status.changed') statuses.push(msg);
        if (msg.eventType === 'device.response.rpc') waiters.get(msg.correlationId)?.(msg);
      },
    });

    agent = startAgent(agentBin, `
deviceId: ${deviceId}
stateDir: STATE_DIR
log: {level: info, format: json}
uplink:
  kafka:
    brokers: ["${cluster.brokers.join('", "')}"]
    connectTimeout: 5s
    commandsPartitions: all    # the document's producer sends commands with no key
sensors:
  - {name: sim, type: sim, interval: 1s}
`);
    // ask sends an RPC of kind keyless, keyed (default partitioner) or
    // keyed-legacy (LegacyPartitioner) and resolves to the answer, or
    // undefined.
    const ask = async (method, kind) => {
      const cmd = rpcCommand(deviceId, method);
      const answered = new Promise((resolve) => waiters.set(cmd.correlationId, resolve));
      const message = kind === 'keyless' ? { value: JSON.stringify(cmd) } : { key: deviceId, value: JSON.stringify(cmd) };
      await (kind === 'keyed-legacy' ? legacyProducer : producer)
        .send({ topic: KafkaTopics.DeviceCommands, messages: [message] });
      const answer = await Promise.race([answered, sleep(ANSWER_MS)]);
      waiters.delete(cmd.correlationId);
      return { cmd, answer };
    };

    const first = await until(() => crash || report.valid.size > 0, 30000);
    report.check('kafkajs reads the agent\'s records within 30 s', Boolean(first) && !crash, crash ? `consumer crashed: ${crash}` : '');
    // The agent reads its commands partition from the end it finds when it
    // has looked the partition up; the first keyed command is repeated
    // until answered, as cmd/agent's Kafka e2e test does, to wait for that.
    // A crashed consumer reads no answers: the command checks are left out.
    let warm;
    for (let i = 0; i < 6 && !warm?.answer && !crash; i++) warm = await ask('getDeviceState', 'keyed');
    report.check('a keyed command answered once the agent reads its partition', Boolean(warm?.answer));

    const started = Date.now();
    const kinds = ['keyless', 'keyed', 'keyed-legacy'];
    const asked = Object.fromEntries(kinds.map((k) => [k, 0]));
    const answeredOK = { ...asked };
    for (let i = 0; !crash && Date.now() - started < seconds * 1000; i++) {
      for (const kind of kinds) {
        const { cmd, answer } = await ask(Methods[i % Methods.length], kind);
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
    report.check('kafkajs consumer did not crash', !crash, crash ? String(crash) : '');

    const online = statuses.find((s) => s.payload.status === 'online');
    await checkStop(report, agent, statuses, online);
  } catch (err) {
    report.check('kafka half ran', false, err.stack);
  } finally {
    await consumer.disconnect().catch(() => {});
    await producer.disconnect().catch(() => {});
    await legacyProducer.disconnect().catch(() => {});
    if (agent && !agent.exited) await agent.stop('SIGKILL');
    await cluster.proc.stop();
    if (report.failed() && agent) console.log(`--- agent output (kafka) ---\n${agent.output()}`);
  }
  return report;
}

