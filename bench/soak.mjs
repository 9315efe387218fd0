// The soak: a steady offered rate for N minutes, one line per minute (ingest, latency, backlog,
// memory, the inbox's growth, autovacuum, CPU), then a drain and the count of what was lost.
import { randomBytes } from 'node:crypto';
import { deliveries, pacedLoad } from './load.mjs';
import { cpuDelta, cpuSnapshot, feedbackCount, inboxByStatus, inboxState, memoryOf, topStatements } from './measure.mjs';
import { soakHeader, soakRow } from './report.mjs';
import { sleep, waitFor } from './setup.mjs';

/** The soak targets (docs/benchmarks-howto.md, the soak), checked at the end of the run. */
export const SOAK_TARGETS = { ingestShare: 0.95, p99Ms: 50, backlog: 5000, rssDrift: 0.1 };

/**
 * Runs the soak on a started topology (`svc`) with a client on its database; `print` gets each line
 * as it is measured. Returns the minutes, the totals and the outcome of the drain.
 */
export async function runSoak(opts, svc, client, sign, postmasterPid, print) {
  const ingestOnly = opts.env.APP_ROLE === 'api';
  const minuteMs = 60_000;
  const load = pacedLoad(svc.url, {
    rate: opts.rate,
    connections: opts.connections,
    seconds: opts.minutes * 60,
    source: deliveries(sign, `soak-${randomBytes(3).toString('hex')}`),
    lateMs: SOAK_TARGETS.p99Ms,
  });
  const t0 = performance.now();
  // RSS sampled every second; each minute reports its highest sample per process.
  let rssPeaks = {};
  const sampleRss = () => {
    for (const p of svc.procs) rssPeaks[p.role] = Math.max(rssPeaks[p.role] ?? 0, memoryOf(p.child.pid).rssMb);
  };
  const rssTimer = setInterval(sampleRss, 1000);
  const cpuStart = cpuSnapshot(svc.pids, postmasterPid);
  let cpuPrev = cpuStart;
  let tPrev = t0;
  const minutes = [];
  const roles = svc.procs.map((p) => p.role);
  print(soakHeader(roles));
  try {
    for (let m = 1; m <= opts.minutes; m++) {
      await sleep(Math.max(0, t0 + m * minuteMs - performance.now()));
      const w = load.take();
      sampleRss();
      const now = performance.now();
      const cpuNow = cpuSnapshot(svc.pids, postmasterPid);
      const seconds = (now - tPrev) / 1000;
      const cpu = Object.fromEntries(Object.entries(cpuDelta(cpuPrev, cpuNow, 0)).map(([k, v]) => [k, (v.seconds / seconds) * 100]));
      const row = {
        minute: m,
        offeredPerSec: w.offered / seconds,
        okPerSec: w.ok / seconds,
        non2xx: w.non2xx,
        errors: w.errors + w.timeouts + w.skipped,
        p50: w.latency.percentile(50),
        p99: w.latency.percentile(99),
        max: w.latency.max,
        rss: rssPeaks,
        cpu,
        ...(await inboxState(client)),
      };
      minutes.push(row);
      print(soakRow(row, roles));
      rssPeaks = {};
      cpuPrev = cpuNow;
      tPrev = now;
    }
    const totals = await load.done;
    const loadSeconds = (performance.now() - t0) / 1000;
    const cpu = cpuDelta(cpuStart, cpuSnapshot(svc.pids, postmasterPid), totals.ok);

    // Drain: every accepted delivery a feedback row, nothing open in the inbox.
    const tDrain = performance.now();
    const drained =
      ingestOnly ||
      (await waitFor(
        async () => {
          const s = await inboxState(client);
          return s.feedback >= totals.ok && s.backlog === 0;
        },
        opts.drainTimeout * 1000,
        1000,
      ));
    const drainSeconds = (performance.now() - tDrain) / 1000;
    const processed = await feedbackCount(client);
    return {
      minutes,
      totals,
      loadSeconds,
      cpu,
      drained,
      drainSeconds,
      processed,
      lost: ingestOnly ? NaN : Math.max(0, totals.ok - processed),
      ingestOnly,
      inbox: await inboxState(client),
      byStatus: await inboxByStatus(client),
      statements: await topStatements(client),
    };
  } finally {
    clearInterval(rssTimer);
    load.stop();
  }
}

/** Each target: [name, goal, measured, met]; met is undefined when the run cannot tell. */
export function soakTargets(result) {
  const { minutes, lost, ingestOnly } = result;
  const highest = (key) => minutes.reduce((a, b) => (b[key] > a[key] || Number.isNaN(b[key]) ? b : a));
  const share = minutes.map((m) => ({ minute: m.minute, share: m.okPerSec / m.offeredPerSec }));
  const lowShare = share.reduce((a, b) => (b.share < a.share ? b : a));
  const highP99 = highest('p99');
  const highBacklog = highest('backlog');
  const pct = (x) => `${(x * 100).toFixed(1)} %`;
  const targets = [
    [
      'ingest, every minute',
      `>= ${pct(SOAK_TARGETS.ingestShare)} of offered`,
      `lowest ${pct(lowShare.share)} (minute ${lowShare.minute})`,
      lowShare.share >= SOAK_TARGETS.ingestShare,
    ],
    [
      'p99 ack latency, every minute',
      `< ${SOAK_TARGETS.p99Ms} ms`,
      Number.isNaN(highP99.p99)
        ? `no 2xx answer in minute ${highP99.minute}`
        : `highest ${highP99.p99.toFixed(1)} ms (minute ${highP99.minute})`,
      minutes.every((m) => m.p99 < SOAK_TARGETS.p99Ms),
    ],
  ];
  targets.push(
    ingestOnly
      ? ['backlog (open inbox rows)', `< ${SOAK_TARGETS.backlog.toLocaleString('en-US')}`, 'n/a (nothing processes)', undefined]
      : [
          'backlog (open inbox rows)',
          `< ${SOAK_TARGETS.backlog.toLocaleString('en-US')}`,
          `highest ${highBacklog.backlog.toLocaleString('en-US')} (minute ${highBacklog.minute})`,
          minutes.every((m) => m.backlog < SOAK_TARGETS.backlog),
        ],
  );
  if (minutes.length >= 3) {
    const first = minutes[1].rss;
    const last = minutes.at(-1).rss;
    const drift = Object.keys(first).map((role) => ({ role, from: first[role], to: last[role], d: last[role] / first[role] - 1 }));
    const measured = drift
      .map((x) => `${x.role} ${Math.round(x.from)} → ${Math.round(x.to)} MB (${x.d >= 0 ? '+' : ''}${pct(x.d)})`)
      .join(', ');
    targets.push([
      'service RSS flat (last minute vs minute 2)',
      `within ${pct(SOAK_TARGETS.rssDrift)}`,
      measured,
      drift.every((x) => Math.abs(x.d) <= SOAK_TARGETS.rssDrift),
    ]);
  } else
    targets.push([
      'service RSS flat (last minute vs minute 2)',
      `within ${pct(SOAK_TARGETS.rssDrift)}`,
      'n/a (needs 3 minutes or more)',
      undefined,
    ]);
  targets.push([
    'lost (accepted, never processed)',
    '0',
    ingestOnly ? 'n/a (nothing processes)' : lost.toLocaleString('en-US'),
    ingestOnly ? undefined : lost === 0,
  ]);
  return targets;
}
