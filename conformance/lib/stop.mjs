// The checks both halves make of a clean stop, and the polling they share.
import { sleep } from './procs.mjs';

// until polls get every 50 ms and resolves to its first truthy value, or
// undefined after ms.
export async function until(get, ms) {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await sleep(50)) {
    const v = get();
    if (v) return v;
  }
  return get();
}

// checkStop stops agent with SIGINT and checks, in report, that it exits 0
// and that statuses (the device.status.changed events received, in order)
// gain an offline that a consumer can tell from online, the last online
// before the stop.
export async function checkStop(report, agent, statuses, online) {
  const code = await agent.stop('SIGINT');
  report.check('agent exits 0 on SIGINT', code === 0, `exit ${code}`);
  const offline = await until(() => statuses.find((s) => s.payload.status === 'offline'), 10000);
  report.check('status offline after the stop', Boolean(offline));
  if (!online || !offline) return;
  // design.md: every message a consumer may de-duplicate or order has
  // its own correlationId and a timestamp that orders it.
  report.check('the offline has its own correlationId', offline.correlationId !== online.correlationId);
  report.check('the offline is timestamped after the online', Date.parse(offline.timestamp) > Date.parse(online.timestamp),
    `online ${online.timestamp}, offline ${offline.timestamp}`);
  // README, "Device status": the higher connection number wins; for the
  // same one, offline beats online.
  const c = (s) => s.payload.connection ?? 0;
  report.check('the offline outranks the online by the status rule',
    c(offline) > c(online) || (c(offline) === c(online) && c(offline) > 0),
    `online connection ${c(online)}, offline connection ${c(offline)} (${offline.payload.reason})`);
  report.check('a clean stop says stopped', offline.payload.reason === 'stopped', `reason ${offline.payload.reason}`);
}
