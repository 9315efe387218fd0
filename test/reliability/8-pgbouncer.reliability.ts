// Scenario 8: the service reaches its PostgreSQL (a private cluster) through a private PgBouncer in
// transaction mode (DATABASE_POOL_MODE=transaction). Mid-load PgBouncer is killed (SIGKILL: every
// client and server connection cut) and started again; later PostgreSQL behind it crashes
// (pg_ctl -m immediate) and starts again. Deliveries during each fault get 503, never a 2xx that is
// then lost; the same service process resumes by itself.
import { queuePrefix, RunningService, sleep, startService, waitFor } from '../helpers/service.js';
import {
  createDatabase,
  privatePgBouncer,
  PrivatePgBouncer,
  privatePostgres,
  PrivatePostgres,
  ThrowawayDatabase,
} from '../../scripts/local-services.mjs';
import {
  dropQueueKeys,
  FAST_RECOVERY_ENV,
  expectRecovery,
  LoadHandle,
  makeWorkload,
  peerEnv,
  Peers,
  RELIABILITY_PG_SETTINGS,
  report,
  settle,
  startLoad,
  statusesBetween,
  startPeers,
} from './harness.js';

const OUTAGE_MS = 2000;

/** Seconds from the end of a fault to the first delivery acknowledged after it. */
function secondsToRecover(load: LoadHandle, faultEnd: number): number {
  const first = load.tally.attempts.filter((a) => a.at > faultEnd && a.status >= 200 && a.status < 300).sort((a, b) => a.at - b.at)[0];
  return first ? Math.round((first.at - faultEnd) / 100) / 10 : NaN;
}

/** The last 2xx answered within a fault, in seconds after it began (answers to deliveries committed before it). */
function last2xxWithin(load: LoadHandle, from: number, to: number): number | undefined {
  const ok = load.tally.attempts.filter((a) => a.at >= from && a.at <= to && a.status >= 200 && a.status < 300).map((a) => a.at);
  return ok.length ? Math.round((Math.max(...ok) - from) / 10) / 100 : undefined;
}

describe('reliability 8: PgBouncer (transaction mode) and PostgreSQL behind it restarted', () => {
  let pg: PrivatePostgres;
  let bouncer: PrivatePgBouncer;
  let db: ThrowawayDatabase;
  let peers: Peers;
  let svc: RunningService | undefined;

  beforeAll(async () => {
    pg = await privatePostgres({ settings: RELIABILITY_PG_SETTINGS });
    bouncer = await privatePgBouncer({ target: pg.url, poolSize: 20 });
    db = await createDatabase(pg.url, { prefix: 'wh_rel' });
    peers = await startPeers();
  });

  afterAll(async () => {
    await svc?.stop('SIGKILL');
    await dropQueueKeys(svc?.env.REDIS_URL, svc?.env.QUEUE_PREFIX);
    await peers?.close();
    await bouncer?.dispose();
    await db?.drop().catch(() => undefined);
    await pg?.dispose();
  });

  it('answers 503 while PgBouncer or PostgreSQL is down, loses nothing, resumes by itself', async () => {
    const viaBouncer = new URL(db.url);
    viaBouncer.port = String(bouncer.port);
    svc = await startService({
      ...FAST_RECOVERY_ENV,
      ...peerEnv(peers),
      DATABASE_URL: viaBouncer.toString(),
      DATABASE_POOL_MODE: 'transaction',
      QUEUE_PREFIX: queuePrefix('rel'),
    });
    const workload = makeWorkload({ keys: 3000, total: 5000, transcriptBaseUrl: peers.transcriptBaseUrl, seed: 8 });
    const load = startLoad(() => svc!.baseUrl, workload.deliveries, { concurrency: 50, retryDelayMs: 200, deadlineMs: 100_000 });

    await waitFor(async () => load.tally.acknowledged >= 1200, 90_000, 20);
    await bouncer.stop('kill');
    const bouncerDown = Date.now();
    await sleep(OUTAGE_MS);
    await bouncer.start();
    const bouncerUp = Date.now();
    await expectRecovery(load, bouncerUp, () => svc!.output());

    await waitFor(async () => load.tally.acknowledged >= 2800, 90_000, 20);
    await pg.stop('immediate');
    const pgDown = Date.now();
    await sleep(OUTAGE_MS);
    await pg.start();
    const pgUp = Date.now();
    await expectRecovery(load, pgUp, () => svc!.output());

    const tally = await load.done;
    const outcome = await settle(db.url, workload, peers, tally, { timeoutMs: 60_000, allKeys: true, quietMs: 3000 });
    const duringBouncer = statusesBetween(tally, bouncerDown, bouncerUp);
    const duringPg = statusesBetween(tally, pgDown, pgUp);
    report(
      `8. PgBouncer (transaction mode) killed ${OUTAGE_MS / 1000} s, then PostgreSQL behind it (pg_ctl -m immediate) ${OUTAGE_MS / 1000} s`,
      outcome,
      {
        'answers while PgBouncer was down': duringBouncer,
        'last 2xx while PgBouncer was down, seconds after the kill': last2xxWithin(load, bouncerDown, bouncerUp),
        'seconds from PgBouncer back to the next 2xx': secondsToRecover(load, bouncerUp),
        'answers from the kill to that 2xx': statusesBetween(tally, bouncerDown, bouncerUp + secondsToRecover(load, bouncerUp) * 1000),
        'answers while PostgreSQL was down': duringPg,
        'last 2xx while PostgreSQL was down, seconds after the crash': last2xxWithin(load, pgDown, pgUp),
        'seconds from PostgreSQL back to the next 2xx': secondsToRecover(load, pgUp),
        'answers from the crash to that 2xx': statusesBetween(tally, pgDown, pgUp + secondsToRecover(load, pgUp) * 1000),
        'answers by status, whole run': statusesBetween(tally, 0, Date.now()),
        'slack posts': peers.slackPosts.length,
      },
      svc.output(),
    );

    expect(svc.process.exitCode).toBeNull();
    expect((duringBouncer['503'] ?? 0) + (duringPg['503'] ?? 0)).toBeGreaterThan(0);
    for (const during of [duringBouncer, duringPg]) expect(Object.keys(during).filter((s) => !['503', '200'].includes(s))).toEqual([]);
    expect(outcome.problems).toEqual([]);
    expect(outcome.lost).toBe(0);
    expect(outcome.duplicated).toBe(0);
    expect(outcome.processed).toBe(workload.keys.length);
  });
});
