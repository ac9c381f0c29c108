// Timing calls: the figures the suite prints.

// percentile returns the p-th percentile (0 < p <= 100) of sorted
// numbers, by the nearest-rank method.
export function percentile(sorted, p) {
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
}

// timeCalls makes n calls of call() one after the other, each resolving
// to a device.response.rpc, and records in report whether all succeeded
// and, as a figure, their p50 and p99 round trips. It returns the sorted
// round trips in ms.
export async function timeCalls(report, name, n, call) {
  const ms = [];
  const failures = [];
  for (let i = 0; i < n; i++) {
    const start = process.hrtime.bigint();
    try {
      const answer = await call();
      ms.push(Number(process.hrtime.bigint() - start) / 1e6);
      if (answer.status !== 'success') failures.push(`${answer.correlationId}: ${answer.status} ${JSON.stringify(answer.error)}`);
    } catch (err) {
      failures.push(err.message);
    }
  }
  ms.sort((a, b) => a - b);
  report.check(`${name}: ${n} calls answered with success`, failures.length === 0,
    failures.length ? `${n - failures.length}/${n}; first: ${failures[0]}` : '');
  if (ms.length) {
    report.figure(name, `p50 ${percentile(ms, 50).toFixed(1)} ms, p99 ${percentile(ms, 99).toFixed(1)} ms, max ${ms.at(-1).toFixed(1)} ms over ${ms.length} calls`);
  }
  return ms;
}
