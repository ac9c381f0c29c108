// The checks both halves make of a clean stop, and the polling they share.
import { sleep } from './procs.mjs';

// until polls get (which may return a promise) every 50 ms and resolves
// to its first truthy value, or its last value after ms.
export async function until(get, ms) {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await sleep(50)) {
    const v = await get();
    if (v) return v;
  }
  return get();
}

// checkStop stops agent with SIGINT and checks, in report, that it exits 0
// and that statuses (the device.status.changed events received, in order)
// gain an offline that a consumer can tell from online, the last online
// before the stop, by outranks (docs/backend.md's status rule). who, when
// set, names the agent in the checks.
export async function checkStop(report, agent, statuses, online, outranks, who = 'agent') {
  const code = await agent.stop('SIGINT');
  report.check(`${who} exits 0 on SIGINT`, code === 0, `exit ${code}`);
  const offline = await until(() => statuses.find((s) => s.payload.status === 'offline'), 10000);
  report.check(`${who}: status offline after the stop`, Boolean(offline));
  if (!online || !offline) return;
  // design.md: every message a consumer may de-duplicate or order has
  // its own correlationId and a timestamp that orders it.
  report.check(`${who}: the offline has its own correlationId`, offline.correlationId !== online.correlationId);
  report.check(`${who}: the offline is timestamped after the online`, Date.parse(offline.timestamp) > Date.parse(online.timestamp),
    `online ${online.timestamp}, offline ${offline.timestamp}`);
  report.check(`${who}: the offline outranks the online by the status rule, and not the other way`,
    outranks(offline, online) && !outranks(online, offline),
    `online connection ${online.payload.connection}, offline connection ${offline.payload.connection} (${offline.payload.reason})`);
  report.check(`${who}: a clean stop says stopped`, offline.payload.reason === 'stopped', `reason ${offline.payload.reason}`);
}
