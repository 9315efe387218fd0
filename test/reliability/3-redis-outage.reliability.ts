// Scenario 3: the queue's Redis (a private redis-server started by the suite) stops in the middle of
// the load and comes back. Deliveries during the outage get 503, never a 2xx that is then lost; the
// same service process resumes processing by itself. Two variants: no persistence (SHUTDOWN NOSAVE:
// every job in Redis is gone, as with this machine's save "" / appendonly no), and an append-only
// file with a SIGKILL (up to a second of writes lost).
import { createTestDatabase, queuePrefix, RunningService, sleep, startService, TestDatabase, waitFor } from '../helpers/service.js';
import { privateRedis, PrivateRedis } from '../../scripts/local-services.mjs';
import {
  FAST_RECOVERY_ENV,
  expectRecovery,
  makeWorkload,
  peerEnv,
  Peers,
  report,
  settle,
  startLoad,
  startPeers,
  statusesBetween,
} from './harness.js';

const OUTAGE_MS = 3000;

describe.each([
  ['no persistence, SHUTDOWN NOSAVE', false, 'nosave'],
  ['appendonly yes, SIGKILL', true, 'kill'],
] as const)('reliability 3: Redis outage (%s)', (name, appendonly, how) => {
  let db: TestDatabase;
  let peers: Peers;
  let redis: PrivateRedis;
  let svc: RunningService | undefined;

  beforeAll(async () => {
    db = await createTestDatabase();
    peers = await startPeers();
    redis = await privateRedis({ appendonly });
  });

  afterAll(async () => {
    await svc?.stop('SIGKILL');
    await redis?.dispose();
    await peers?.close();
    await db?.drop();
  });

  it('answers 503 during the outage, loses nothing, resumes by itself', async () => {
    svc = await startService({
      ...FAST_RECOVERY_ENV,
      ...peerEnv(peers),
      DATABASE_URL: db.url,
      REDIS_URL: redis.url,
      QUEUE_BACKEND: 'redis',
      QUEUE_PREFIX: queuePrefix('rel'),
    });
    const workload = makeWorkload({ keys: 3000, total: 5000, transcriptBaseUrl: peers.transcriptBaseUrl, seed: appendonly ? 4 : 3 });
    const load = startLoad(() => svc!.baseUrl, workload.deliveries, { concurrency: 50, retryDelayMs: 200, deadlineMs: 100_000 });

    await waitFor(async () => load.tally.acknowledged >= 1500, 90_000, 20);
    const outageStart = Date.now();
    await redis.stop(how);
    await sleep(OUTAGE_MS);
    await redis.start();
    const outageEnd = Date.now();
    await expectRecovery(load, outageEnd, () => svc!.output());

    const tally = await load.done;
    const outcome = await settle(db.url, workload, peers, tally, { timeoutMs: 60_000, allKeys: true, quietMs: 3000 });
    // Answers that began during the outage; a little slack at the end for requests in flight.
    const during = statusesBetween(tally, outageStart + 200, outageEnd);
    report(
      `3. Redis outage (${name}), ${OUTAGE_MS / 1000} s`,
      outcome,
      {
        'answers during the outage': during,
        'slack posts': peers.slackPosts.length,
      },
      svc.output(),
    );

    expect(svc.process.exitCode).toBeNull(); // the same process recovered by itself
    expect(during['503'] ?? 0).toBeGreaterThan(0); // the outage was seen by deliveries
    expect(Object.keys(during).filter((s) => !['503', '200'].includes(s))).toEqual([]);
    expect(outcome.problems).toEqual([]);
    expect(outcome.lost).toBe(0);
    expect(outcome.duplicated).toBe(0);
    expect(outcome.processed).toBe(workload.keys.length);
  });
});
