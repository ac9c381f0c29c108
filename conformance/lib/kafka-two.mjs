// Two agents on one cluster: the first reads every partition of
// device.commands (commandsPartitions: all), the second only its own (the
// default). Each must answer only its own commands, whatever their key or
// partition, and count the other's that it reads; the second's commands
// sent keyless or by the LegacyPartitioner are answered when they land on
// its partition, and otherwise never run. docs/backend.md's KafkaRpc times
// waitForResponse against the second.
import { checkAnswer } from './command.mjs';
import { freePort, sleep, startAgent } from './procs.mjs';
import { checkStop, until } from './stop.mjs';
import { timeCalls } from './timing.mjs';
import { ANSWER_MS, send } from './kafka-backend.mjs';

// CALLS is how many RPCs the round-trip figure times.
const CALLS = 100;
// ROUNDS is how many commands of each kind the mixed traffic sends per
// agent: enough for keyless ones to land on every partition.
const ROUNDS = 6;

// startKafkaAgent starts the agent for deviceId on brokers, reading
// commands of partitions mode, with its metrics on a free port; it
// returns {proc, otherDevices()}: otherDevices reads the agent's count of
// other devices' commands.
export async function startKafkaAgent(bin, deviceId, brokers, mode) {
  const port = await freePort();
  const proc = startAgent(bin, `
deviceId: ${deviceId}
stateDir: STATE_DIR
log: {level: info, format: json}
health: {enabled: true, listen: "127.0.0.1:${port}"}
uplink:
  kafka:
    brokers: ["${brokers.join('", "')}"]
    connectTimeout: 5s
    commandsPartitions: ${mode}
sensors:
  - {name: sim, type: sim, interval: 1s}
`);
  const otherDevices = async () => {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const m = text.match(/^iot_hub_agent_commands_other_devices_total (\d+)$/m);
    if (!m) throw new Error(`no iot_hub_agent_commands_other_devices_total in ${deviceId}'s /metrics`);
    return Number(m[1]);
  };
  return { proc, otherDevices };
}

// secondAgent runs the second agent beside first (deviceId, reading all
// partitions) and makes the checks above in backend.report.
export async function secondAgent(backend, { agentBin, brokers, first, deviceId }) {
  const { report, example } = backend;
  const other = `${deviceId}-2`;
  backend.devices.add(other);
  backend.statuses.set(other, []);
  const second = await startKafkaAgent(agentBin, other, brokers, 'own');
  let sentForSecond = 0;
  try {
    let warm;
    for (let i = 0; i < 6 && !warm?.answer; i++, sentForSecond++) warm = await backend.ask(other, 'getDeviceState', 'keyed');
    if (!report.check('the second agent answers a keyed command', Boolean(warm?.answer))) return;
    const own = warm.partition;

    const rpc = new example.KafkaRpc(backend.kafka, `conformance-example-${Date.now()}`);
    await rpc.start();
    try {
      await timeCalls(report, 'Kafka round trip (KafkaRpc: keyed, then waitForResponse)', CALLS, () => rpc.call(other, 'getDeviceState'));
      sentForSecond += CALLS;
    } finally {
      await rpc.stop();
    }

    // Mixed traffic: the first agent's keyless commands, the second's
    // keyless and LegacyPartitioner-keyed ones.
    const sent = [];
    for (let i = 0; i < ROUNDS; i++) {
      sent.push({ device: deviceId, ...await send(backend, deviceId, 'getSensors', 'keyless') });
      for (const kind of ['keyless', 'keyed-legacy']) sent.push({ device: other, kind, ...await send(backend, other, 'getSensors', kind) });
    }
    sentForSecond += sent.filter((s) => s.device === other).length;
    const expected = sent.filter((s) => s.device === deviceId || s.partition === own);
    const elsewhere = sent.filter((s) => !expected.includes(s));
    const answers = await Promise.all(expected.map((s) => Promise.race([s.answered, sleep(ANSWER_MS)])));
    await sleep(3000); // room for an answer that must not come
    const wrong = expected.map((s, i) => (answers[i] ? checkAnswer(s.cmd, answers[i]) : 'no answer'))
      .map((w, i) => w && `${expected[i].device} ${expected[i].cmd.correlationId}: ${w}`).filter(Boolean);
    report.check('each agent answers its own commands, whatever their key and partition', wrong.length === 0,
      `${expected.length - wrong.length}/${expected.length}${wrong.length ? `; ${wrong[0]}` : ''}`);
    const twice = sent.filter((s) => (backend.answers.get(s.cmd.correlationId) ?? 0) > 1);
    report.check('no command answered twice', twice.length === 0, twice.map((s) => s.cmd.correlationId).join(' '));
    const ran = elsewhere.filter((s) => backend.answers.has(s.cmd.correlationId));
    report.check(`the second agent (own partition ${own}) does not answer its commands that land elsewhere`, ran.length === 0,
      `${elsewhere.length} landed elsewhere (${elsewhere.filter((s) => s.kind === 'keyless').length} keyless), ${ran.length} answered`);

    // The counts of other devices' commands: the first reads every
    // partition, so every command for the second; the second, those for
    // the first that landed on its partition.
    const wantFirst = sentForSecond;
    const wantSecond = sent.filter((s) => s.device === deviceId && s.partition === own).length;
    const counts = async () => [await first.otherDevices(), await second.otherDevices()];
    await until(async () => { const [a, b] = await counts(); return a >= wantFirst && b >= wantSecond; }, 10000);
    const [gotFirst, gotSecond] = await counts();
    report.check('the first agent counts every command for the second', gotFirst === wantFirst, `${gotFirst}, want ${wantFirst}`);
    report.check('the second agent counts the first\'s commands on its partition', gotSecond === wantSecond, `${gotSecond}, want ${wantSecond}`);
    report.check('the second agent warns that its commands come keyed otherwise',
      second.proc.output().includes('kafka: a command for this device came keyed otherwise than by its id'));
    report.check('no dead letters', (report.valid.get('system.dlq') ?? 0) === 0, `${report.valid.get('system.dlq') ?? 0}`);

    const statuses = backend.statuses.get(other);
    const online = statuses.find((s) => s.payload.status === 'online');
    await checkStop(report, second.proc, statuses, online, example.outranks, 'the second agent');
  } catch (err) {
    report.check('two agents ran', false, err.stack);
  } finally {
    if (!second.proc.exited) await second.proc.stop('SIGKILL');
    if (report.failed()) console.log(`--- second agent output (kafka) ---\n${second.proc.output()}`);
  }
}
