// Scenario 4: the service's PostgreSQL (a private cluster made with initdb in a temp folder, run as
// the postgres OS user on a spare port) stops in the middle of the load (pg_ctl -m immediate, a
// crash) and starts again. Deliveries during the outage get 503, never a 2xx that is then lost; the
// same service process resumes by itself.
import { queuePrefix, RunningService, sleep, startService, waitFor } from '../helpers/service.js';
import { createDatabase, privatePostgres, PrivatePostgres, ThrowawayDatabase } from '../../scripts/local-services.mjs';
import {
  dropQueueKeys,
  FAST_RECOVERY_ENV,
  expectRecovery,
  makeWorkload,
  peerEnv,
  Peers,
  RELIABILITY_PG_SETTINGS,
  report,
  settle,
  startLoad,
  startPeers,
  statusesBetween,
} from './harness.js';

const OUTAGE_MS = 3000;

describe('reliability 4: PostgreSQL outage', () => {
  let pg: PrivatePostgres;
  let db: ThrowawayDatabase;
  let peers: Peers;
  let svc: RunningService | undefined;

  beforeAll(async () => {
    pg = await privatePostgres({ settings: RELIABILITY_PG_SETTINGS });
    db = await createDatabase(pg.url, { prefix: 'wh_rel' });
    peers = await startPeers();
  });

  afterAll(async () => {
    await svc?.stop('SIGKILL');
    await dropQueueKeys(svc?.env.REDIS_URL, svc?.env.QUEUE_PREFIX);
    await peers?.close();
    await db?.drop().catch(() => undefined);
    await pg?.dispose();
  });

  it('answers 503 during the outage, loses nothing, resumes by itself', async () => {
    svc = await startService({
      ...FAST_RECOVERY_ENV,
      ...peerEnv(peers),
      DATABASE_URL: db.url,
      QUEUE_PREFIX: queuePrefix('rel'),
    });
    const workload = makeWorkload({ keys: 3000, total: 5000, transcriptBaseUrl: peers.transcriptBaseUrl, seed: 5 });
    const load = startLoad(() => svc!.baseUrl, workload.deliveries, { concurrency: 50, retryDelayMs: 200, deadlineMs: 100_000 });

    await waitFor(async () => load.tally.acknowledged >= 1500, 90_000, 20);
    const outageStart = Date.now();
    await pg.stop('immediate');
    await sleep(OUTAGE_MS);
    await pg.start();
    const outageEnd = Date.now();
    await expectRecovery(load, outageEnd, () => svc!.output());

    const tally = await load.done;
    const outcome = await settle(db.url, workload, peers, tally, { timeoutMs: 60_000, allKeys: true, quietMs: 3000 });
    const during = statusesBetween(tally, outageStart + 200, outageEnd);
    report(
      `4. PostgreSQL outage (pg_ctl -m immediate), ${OUTAGE_MS / 1000} s`,
      outcome,
      {
        'answers during the outage': during,
        'slack posts': peers.slackPosts.length,
      },
      svc.output(),
    );

    expect(svc.process.exitCode).toBeNull();
    expect(during['503'] ?? 0).toBeGreaterThan(0);
    expect(Object.keys(during).filter((s) => !['503', '200'].includes(s))).toEqual([]);
    expect(outcome.problems).toEqual([]);
    expect(outcome.lost).toBe(0);
    expect(outcome.duplicated).toBe(0);
    expect(outcome.processed).toBe(workload.keys.length);
  });
});
