// `npm run bench:embedded`: the embedded mode end to end, as `npm start` runs it (no DATABASE_URL,
// no REDIS_URL: PGlite in the process, the PostgreSQL queue backend). Sends N signed deliveries,
// `--in-flight` at a time, and waits until every one is processed (the service's own counter,
// webhook_jobs_total{outcome="processed"}: the embedded database is not reachable from outside).
//
//   npm run bench:embedded -- [--deliveries 1000] [--in-flight 50] [--event feedback|interview] [--dist DIR]
//
// `--event interview` sends interview.completed deliveries whose transcript_url is the embedded
// mode's own sample transcript (/dev/transcripts/…): a download, an upsert and a notification record each.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startService } from '../scripts/local-services.mjs';
import { deliveries } from './load.mjs';
import { cpuDelta, cpuSnapshot, memoryOf } from './measure.mjs';
import { snapshotDist, signer, waitFor, WEBHOOK_PATH } from './setup.mjs';

const { values } = parseArgs({
  options: {
    deliveries: { type: 'string', default: '1000' },
    'in-flight': { type: 'string', default: '50' },
    event: { type: 'string', default: 'feedback' },
    'cpu-prof': { type: 'boolean', default: false },
    dist: { type: 'string' },
  },
});
const total = Number(values.deliveries);
const inFlight = Number(values['in-flight']);

const processedCount = async (baseUrl) => {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  return [...text.matchAll(/^webhook_jobs_total\{[^}]*outcome="(?:processed|ignored)"[^}]*\} (\d+)/gm)].reduce(
    (n, m) => n + Number(m[1]),
    0,
  );
};

const snapshot = snapshotDist(values.dist);
const dataDir = mkdtempSync(join(tmpdir(), 'bench-embedded-'));
const nodeArgs = values['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${join(tmpdir(), 'bench-profiles')}`] : [];
const svc = await startService({
  cwd: snapshot.dir,
  env: { PATH: process.env.PATH, DATA_DIR: dataDir, LOG_LEVEL: 'warn' },
  nodeArgs,
  timeoutMs: 120_000,
});
try {
  if (!(await waitFor(async () => (await fetch(`${svc.baseUrl}/health/ready`)).ok, 120_000, 200)))
    throw new Error(`not ready:\n${svc.output()}`);
  const secret = readFileSync(join(dataDir, 'webhook-secret'), 'utf8').trim();
  const sign = await signer(snapshot.dir, secret);
  const runId = `emb-${Date.now().toString(36)}`;
  let n = 0;
  const source =
    values.event === 'interview'
      ? {
          next() {
            const sessionId = `${runId}-${n++}`;
            const body = JSON.stringify({
              event: 'interview.completed',
              session_id: sessionId,
              invitee_email: 'ada@example.com',
              total_minutes: 23.5,
              transcript_url: `${svc.baseUrl}/dev/transcripts/${sessionId}`,
              timestamp: '2026-11-27T12:00:00.000Z',
            });
            return { body, headers: { 'content-type': 'application/json', ...sign(body) } };
          },
        }
      : deliveries(sign, runId);
  const cpu0 = cpuSnapshot({ service: svc.child.pid });
  const t0 = performance.now();
  let next = 0;
  const statuses = {};
  const sender = async () => {
    while (next < total) {
      next++;
      const { body, headers } = source.next();
      const res = await fetch(`${svc.baseUrl}${WEBHOOK_PATH}`, { method: 'POST', headers, body });
      await res.arrayBuffer();
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, sender));
  const tAcked = performance.now();
  const done = await waitFor(async () => (await processedCount(svc.baseUrl)) >= (statuses[200] ?? 0), 300_000, 100);
  const tDone = performance.now();
  const cpu = cpuDelta(cpu0, cpuSnapshot({ service: svc.child.pid }), total);
  console.log(`embedded mode, Node ${process.version}: ${total} ${values.event} deliveries, ${inFlight} in flight`);
  console.log(
    `- answers: ${JSON.stringify(statuses)}; all acknowledged after ${((tAcked - t0) / 1000).toFixed(1)} s (${Math.round(total / ((tAcked - t0) / 1000))} req/s)`,
  );
  console.log(
    `- end to end: ${done ? `**${Math.round((statuses[200] ?? 0) / ((tDone - t0) / 1000))} events/s** (all processed after ${((tDone - t0) / 1000).toFixed(1)} s)` : 'NOT all processed within 300 s'}`,
  );
  console.log(
    `- service CPU ${Math.round(cpu.service.usPerRequest)} µs per delivery, peak RSS ${Math.round(memoryOf(svc.child.pid).hwmMb)} MB`,
  );
} finally {
  // SIGINT lets --cpu-prof write its profile.
  await svc.stop(values['cpu-prof'] ? 'SIGINT' : 'SIGTERM');
  rmSync(dataDir, { recursive: true, force: true });
  snapshot.remove();
}
