// The burst: the platform's example handler (bench/baseline.mjs), with --floor the durable floor
// (bench/floor.mjs), then the service, each driven by autocannon with as many requests as the
// connections keep in flight.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { startService } from '../scripts/local-services.mjs';
import { cannon, deliveries } from './load.mjs';
import {
  cpuDelta,
  cpuSnapshot,
  feedbackCount,
  inboxByStatus,
  memoryOf,
  redisCommandsBetween,
  redisCommandStats,
  topStatements,
} from './measure.mjs';
import { benchDatabase, dropQueueKeys, REDIS_URL, ROOT, SECRET, waitFor } from './setup.mjs';

const runId = (tag) => `${tag}-${randomBytes(3).toString('hex')}`;

function summarise(result) {
  return {
    rps: result.requests.average,
    total: result.requests.total,
    p50: result.latency.p50,
    p99: result.latency.p99,
    max: result.latency.max,
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  };
}

/**
 * A reference handler under the same load as the service: warm-up, then the measured run with the CPU
 * of every process. `processed()`, where the reference processes what it accepts, counts the events
 * done: the warm-up's drain before the measured run, and end to end after it, as for the service.
 */
async function runReference(opts, sign, postmasterPid, { entry, env, processed }) {
  const ref = await startService({ entry, env, readyPath: '/__ping', timeoutMs: 10_000 });
  const drain = async (target, what) => {
    if (!(await waitFor(async () => (await processed()) >= target, opts.drainTimeout * 1000, 50)))
      throw new Error(`${what} did not drain in ${opts.drainTimeout} s (${await processed()}/${target})`);
  };
  try {
    let accepted = 0;
    if (opts.warmup > 0)
      accepted += (await cannon(ref.baseUrl, { connections: opts.connections, duration: opts.warmup }, deliveries(sign, runId('bw'))))[
        '2xx'
      ];
    if (processed) await drain(accepted, 'the warm-up backlog');
    const cpu0 = cpuSnapshot({ target: ref.child.pid }, postmasterPid);
    const t0 = performance.now();
    const result = summarise(await cannon(ref.baseUrl, opts, deliveries(sign, runId('b'))));
    result.cpu = cpuDelta(cpu0, cpuSnapshot({ target: ref.child.pid }, postmasterPid), result.total);
    if (processed) {
      await drain(accepted + result.ok, 'the events');
      result.e2eEventsPerSec = result.ok / ((performance.now() - t0) / 1000);
    }
    result.hwmMb = memoryOf(ref.child.pid).hwmMb;
    return result;
  } finally {
    await ref.stop('SIGTERM', 20_000);
  }
}

/** The platform's example handler (bench/baseline.mjs): nothing persisted. */
export const runBaseline = (opts, sign, postmasterPid) =>
  runReference(opts, sign, postmasterPid, {
    entry: join(ROOT, 'bench', 'baseline.mjs'),
    env: { WEBHOOK_SECRET: SECRET, NODE_ENV: 'production' },
  });

/**
 * The durable floor (bench/floor.mjs) on a database and queue prefix of its own, with its worker
 * in the same process unless the run is the front door alone (APP_ROLE=api).
 */
export async function runFloor(opts, sign, server) {
  const db = await benchDatabase(server);
  const prefix = `floor-${randomBytes(4).toString('hex')}`;
  const withWorker = opts.env.APP_ROLE !== 'api';
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    return await runReference(opts, sign, server.pid(), {
      entry: join(ROOT, 'bench', 'floor.mjs'),
      env: {
        WEBHOOK_SECRET: SECRET,
        NODE_ENV: 'production',
        DATABASE_URL: db.url,
        REDIS_URL,
        QUEUE_PREFIX: prefix,
        FLOOR_WORKER: withWorker ? '1' : '0',
        FLOOR_QUEUE: opts.queue,
      },
      processed: withWorker ? async () => (await client.query('SELECT count(*)::int AS n FROM floor_feedback')).rows[0].n : undefined,
    });
  } finally {
    await client.end().catch(() => undefined);
    await db.drop().catch((e) => console.error(`could not drop ${db.name}: ${e.message}`));
    await dropQueueKeys(prefix);
  }
}

/**
 * The service's burst on a started topology (`svc`) with a client on its database. The warm-up's
 * backlog drains before the measured run; end to end runs from its first request until every
 * accepted event is a feedback row.
 */
export async function runServiceBurst(opts, svc, client, sign, postmasterPid) {
  // APP_ROLE=api (--env APP_ROLE=api): ingest alone, nothing processed, no end-to-end figure.
  const ingestOnly = opts.env.APP_ROLE === 'api';
  const roles = svc.procs.map((p) => p.role);
  let sampler;
  try {
    let accepted = 0;
    if (opts.warmup > 0) {
      const w = await cannon(svc.url, { connections: opts.connections, duration: opts.warmup }, deliveries(sign, runId('sw')));
      accepted += w['2xx'];
      // Let the warm-up backlog drain so the measured run starts from an empty queue.
      if (!ingestOnly && !(await waitFor(async () => (await feedbackCount(client)) >= accepted, opts.drainTimeout * 1000))) {
        throw new Error(`warm-up backlog did not drain in ${opts.drainTimeout} s (${await feedbackCount(client)}/${accepted})`);
      }
    }
    // Peak RSS: of all processes together (sampled) and of each (sampled, and the kernel's high-water mark).
    const peaks = Object.fromEntries(roles.map((r) => [r, 0]));
    let peakTotal = 0;
    const sample = () => {
      let total = 0;
      for (const p of svc.procs) {
        const { rssMb } = memoryOf(p.child.pid);
        peaks[p.role] = Math.max(peaks[p.role], rssMb);
        total += rssMb;
      }
      peakTotal = Math.max(peakTotal, total);
    };
    const finishMemory = (result) => {
      sample();
      for (const p of svc.procs) peaks[p.role] = Math.max(peaks[p.role], memoryOf(p.child.pid).hwmMb);
      result.peakRssMb = roles.length > 1 ? peakTotal : peaks[roles[0]];
      result.peakRssByRole = roles.length > 1 ? peaks : undefined;
    };
    sampler = setInterval(sample, 100);
    const statsBefore = opts.cpuProf ? redisCommandStats() : undefined;

    const cpu0 = cpuSnapshot(svc.pids, postmasterPid);
    const t0 = performance.now();
    const result = summarise(await cannon(svc.url, opts, deliveries(sign, runId('s'))));
    const tLoadEnd = performance.now();
    result.cpu = cpuDelta(cpu0, cpuSnapshot(svc.pids, postmasterPid), result.total);
    const target = accepted + result.ok;
    if (ingestOnly) {
      result.e2eEventsPerSec = result.e2eSeconds = result.drainSeconds = result.backlogAtEnd = NaN;
      finishMemory(result);
      result.inbox = {};
      return result;
    }
    // Requests still in flight when autocannon stops are not counted as accepted but may be stored.
    result.backlogAtEnd = Math.max(0, target - (await feedbackCount(client)));
    const drained = await waitFor(async () => (await feedbackCount(client)) >= target, opts.drainTimeout * 1000, 50);
    const tDone = performance.now();
    if (!drained)
      throw new Error(`events not processed within ${opts.drainTimeout} s after the load (${await feedbackCount(client)}/${target})`);
    clearInterval(sampler);
    result.e2eEventsPerSec = result.ok / ((tDone - t0) / 1000);
    result.e2eSeconds = (tDone - t0) / 1000;
    result.drainSeconds = (tDone - tLoadEnd) / 1000;
    finishMemory(result);
    result.inbox = await inboxByStatus(client);
    if (opts.cpuProf) result.statements = await topStatements(client, 12);
    if (opts.cpuProf) result.redisCommands = redisCommandsBetween(statsBefore, redisCommandStats());
    return result;
  } finally {
    clearInterval(sampler);
  }
}
