// The conformance suite: the platform's side, run with the clients its
// design document uses (kafkajs 2, MQTT.js 5, Zod 3), against the real
// agent. Usage:
//
//   node run.mjs --agent ../bin/agent --kfake ../bin/conformance-kfake \
//     [--seconds 60] [--uplinks mqtt,kafka,migration] [--command-partitions 3]
//
// It exits 0 only when every message validated and every check passed.
import { parseArgs } from 'node:util';
import { runMqtt } from './lib/mqtt-half.mjs';
import { runKafka } from './lib/kafka-half.mjs';
import { runMigration } from './lib/migration-half.mjs';
import { loadExample } from './lib/example.mjs';

const { values } = parseArgs({
  options: {
    agent: { type: 'string', default: '../bin/agent' },
    kfake: { type: 'string', default: '../bin/conformance-kfake' },
    seconds: { type: 'string', default: '60' },
    uplinks: { type: 'string', default: 'mqtt,kafka,migration' },
    'command-partitions': { type: 'string', default: '3' },
  },
});
const seconds = Number(values.seconds);
const commandPartitions = Number(values['command-partitions']);
if (!(seconds > 0) || !Number.isInteger(commandPartitions) || commandPartitions < 1) {
  console.error(`--seconds must be a positive number and --command-partitions a positive integer; got ${values.seconds}, ${values['command-partitions']}`);
  process.exit(2);
}
const halves = { mqtt: runMqtt, kafka: runKafka, migration: runMigration };
// docs/backend.md's example, compiled: both halves call through it.
const example = await loadExample();
const reports = [];
for (const name of values.uplinks.split(',')) {
  if (!halves[name]) {
    console.error(`--uplinks: unknown uplink ${name}; want mqtt, kafka, migration (both at once, phase A), or a list`);
    process.exit(2);
  }
  const started = Date.now();
  const report = await halves[name]({
    agentBin: values.agent, kfakeBin: values.kfake, seconds, commandPartitions, deviceId: `conformance-${name}-gw`, example,
  });
  console.log(`${report.summary()} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  reports.push(report);
}
console.log('--- summary ---');
for (const r of reports) console.log(r.summary());
process.exit(reports.some((r) => r.failed()) ? 1 : 0);
