// The MQTT half: the agent with its MQTT uplink against mosquitto, and the
// backend's side with MQTT.js 5 (protocol v5), as design.md maps the
// document onto MQTT.
import mqtt from 'mqtt';
import { rpcCommand, checkAnswer, Methods } from './command.mjs';
import { startAgent, startMosquitto, sleep } from './procs.mjs';
import { Report } from './report.mjs';
import { checkStop, until } from './stop.mjs';
import { timeCalls } from './timing.mjs';
import { mqttSuffix } from './topics.mjs';

const ANSWER_MS = 10000;
// CALLS is how many RPCs each round-trip figure times.
export const CALLS = 100;

// runMqtt runs the agent for seconds, validates every message it
// publishes, asks it RPCs (a v5 Response Topic and Correlation Data, and
// one without), times the round trip of the example of docs/backend.md
// with Nagle's algorithm on and off, and stops it; it returns the Report.
export async function runMqtt({ agentBin, seconds, deviceId, example }) {
  const report = new Report('mqtt');
  const broker = await startMosquitto();
  const base = `iot/v1/devices/${deviceId}/`;
  const replyTopic = `conformance/replies/${deviceId}`;
  const waiters = new Map(); // correlationId -> resolve(parsed answer)
  const statuses = [];
  let merged = 0; // telemetry events holding several sensors' readings
  let agent;
  let client;
  try {
    client = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clientId: 'conformance-backend', clean: true });
    client.on('message', (topic, payload, packet) => {
      if (topic === base + 'commands') return; // the suite's own
      const msg = report.validate(topic, payload);
      if (!msg) return;
      if (msg.eventType === 'device.telemetry' && new Set(msg.payload.readings.map((r) => r.sensor)).size > 1) merged++;
      if (topic === replyTopic) {
        const data = packet.properties?.correlationData?.toString('utf8');
        if (data !== msg.correlationId) report.check(`Correlation Data of the answer ${msg.correlationId}`, false, `got ${data}`);
        waiters.get(msg.correlationId)?.(msg);
        return;
      }
      const want = base + mqttSuffix(msg.eventType);
      if (topic !== want) report.check(`${msg.eventType} on its topic`, false, `on ${topic}, want ${want}`);
      if (msg.payload.deviceId !== undefined && msg.payload.deviceId !== deviceId) {
        report.check(`${msg.eventType} names the device`, false, `deviceId ${msg.payload.deviceId}`);
      }
      if (msg.eventType === 'device.status.changed') statuses.push(msg);
      if (msg.eventType === 'device.response.rpc') waiters.get(msg.correlationId)?.(msg);
    });
    await client.subscribeAsync([base + '#', replyTopic], { qos: 1 });

    agent = startAgent(agentBin, agentConfig(deviceId, broker.url));
    const online = await until(() => statuses.find((s) => s.payload.status === 'online'), 30000);
    report.check('status online within 30 s', Boolean(online));

    // ask sends an RPC and resolves to the answer, or undefined.
    const ask = async (method, withResponseTopic) => {
      const cmd = rpcCommand(deviceId, method);
      const answered = new Promise((resolve) => waiters.set(cmd.correlationId, resolve));
      const properties = withResponseTopic
        ? { responseTopic: replyTopic, correlationData: Buffer.from(cmd.correlationId) }
        : {};
      await client.publishAsync(base + 'commands', JSON.stringify(cmd), { qos: 1, properties });
      const answer = await Promise.race([answered, sleep(ANSWER_MS)]);
      waiters.delete(cmd.correlationId);
      return { cmd, answer };
    };

    const started = Date.now();
    let asked = 0;
    let answeredOK = 0;
    for (let i = 0; Date.now() - started < seconds * 1000; i++) {
      const { cmd, answer } = await ask(Methods[i % Methods.length], true);
      asked++;
      const wrong = answer ? checkAnswer(cmd, answer) : `no answer within ${ANSWER_MS} ms`;
      if (wrong) report.check(`${cmd.payload.method} ${cmd.correlationId} answered on the Response Topic`, false, wrong);
      else answeredOK++;
      await sleep(Math.min(5000, Math.max(0, seconds * 1000 - (Date.now() - started))));
    }
    report.check('every RPC with a Response Topic answered', asked > 0 && answeredOK === asked, `${answeredOK}/${asked}`);

    const plain = await ask('getSensors', false);
    report.check('an RPC without a Response Topic answered on .../responses',
      Boolean(plain.answer) && !checkAnswer(plain.cmd, plain.answer),
      plain.answer ? checkAnswer(plain.cmd, plain.answer) : 'no answer');

    report.check('telemetry received', (report.valid.get('device.telemetry') ?? 0) > 0);
    report.check('telemetry of two sensors read together, in one event the schema takes', merged > 0,
      `${merged} of ${report.valid.get('device.telemetry') ?? 0} events`);

    // waitForResponse's round trip, with Nagle's algorithm on (MQTT.js's
    // default) and off on the backend's connection; mosquitto keeps its
    // default (on).
    await timeRoundTrips(report, example, broker, deviceId, [false, true]);

    await checkStop(report, agent, statuses, online, example.outranks);
  } catch (err) {
    report.check('mqtt half ran', false, err.stack);
  } finally {
    await client?.endAsync();
    if (agent && !agent.exited) await agent.stop('SIGKILL');
    await broker.proc.stop();
    if (report.failed() && agent) console.log(`--- agent output (mqtt) ---\n${agent.output()}`);
  }
  await timeWithoutNagle(report, agentBin, deviceId, example);
  return report;
}

// agentConfig is the agent's configuration for deviceId with broker.
function agentConfig(deviceId, broker) {
  return `
deviceId: ${deviceId}
stateDir: STATE_DIR
log: {level: info, format: json}
uplink:
  mqtt:
    broker: ${broker}
    connectTimeout: 5s
    backoffMin: 100ms
    backoffMax: 1s
sensors:
  - {name: sim, type: sim, interval: 1s}
  - {name: sim-2, type: sim, interval: 1s}
`;
}

// timeRoundTrips times CALLS RPCs to deviceId through broker with
// docs/backend.md's MqttRpc, once per backend setting of noDelays
// (false: Nagle's algorithm on).
async function timeRoundTrips(report, example, broker, deviceId, noDelays) {
  for (const noDelay of noDelays) {
    const rpc = await example.MqttRpc.connect(broker.url, `conformance-example-${noDelay ? 'nodelay' : 'nagle'}`, noDelay);
    try {
      await timeCalls(report, `MQTT round trip, backend ${noDelay ? 'TCP_NODELAY' : 'Nagle on'}, mosquitto ${broker.noDelay ? 'TCP_NODELAY' : 'Nagle on'}`,
        CALLS, () => rpc.call(deviceId, 'getDeviceState'));
    } finally {
      await rpc.stop();
    }
  }
}

// timeWithoutNagle times the round trip with Nagle's algorithm off on
// both sides of mosquitto (set_tcp_nodelay true; the agent's Go
// connections have it off already), with an agent of its own.
async function timeWithoutNagle(report, agentBin, deviceId, example) {
  const broker = await startMosquitto(true);
  const agent = startAgent(agentBin, agentConfig(deviceId, broker.url));
  try {
    const rpc = await example.MqttRpc.connect(broker.url, 'conformance-example-ready');
    let ready;
    for (let i = 0; i < 6 && !ready; i++) ready = await rpc.call(deviceId, 'getDeviceState', 5000).catch(() => undefined);
    await rpc.stop();
    report.check('an agent on a mosquitto with set_tcp_nodelay answers', Boolean(ready));
    if (ready) await timeRoundTrips(report, example, broker, deviceId, [true]);
    report.check('that agent exits 0 on SIGINT', await agent.stop('SIGINT') === 0);
  } catch (err) {
    report.check('round trips without Nagle timed', false, err.stack);
  } finally {
    if (!agent.exited) await agent.stop('SIGKILL');
    await broker.proc.stop();
    if (report.failed()) console.log(`--- agent output (mqtt, set_tcp_nodelay) ---\n${agent.output()}`);
  }
}

