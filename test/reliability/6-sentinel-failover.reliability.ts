// Scenario 6: the queue's Redis runs under Sentinel (a private primary, one replica and three
// sentinels on this suite's ports); the primary is SIGKILLed in the middle of the load. The sentinels
// promote the replica after down-after-milliseconds (1 s); the producers and the worker follow it
// through the sentinels. Deliveries refused meanwhile get 503 (never a 2xx that is then lost); jobs
// the primary took but had not yet replicated are put back by the stale-row sweeper.
import { privateSentinel, PrivateSentinel, waitFor } from '../../scripts/local-services.mjs';
import { createTestDatabase, queuePrefix, RunningService, startService, TestDatabase } from '../helpers/service.js';
import { failoverFigures } from './failover.js';
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

// This suite's private ports (17000-17999 belong to it on the shared CI machine).
const BASE_PORT = 17500;

describe('reliability 6: Sentinel failover', () => {
  let db: TestDatabase;
  let peers: Peers;
  let sentinel: PrivateSentinel;
  let svc: RunningService | undefined;

  beforeAll(async () => {
    db = await createTestDatabase();
    peers = await startPeers();
    sentinel = await privateSentinel({ basePort: BASE_PORT, sentinels: 3, downAfterMs: 1000 });
  });

  afterAll(async () => {
    await svc?.stop('SIGKILL');
    await sentinel?.dispose();
    await peers?.close();
    await db?.drop();
  });

  it('promotes the replica; producers and workers follow it; nothing lost, nothing done twice', async () => {
    svc = await startService({
      ...FAST_RECOVERY_ENV,
      ...peerEnv(peers),
      DATABASE_URL: db.url,
      REDIS_URL: '',
      REDIS_SENTINELS: sentinel.sentinels,
      REDIS_SENTINEL_NAME: sentinel.name,
      QUEUE_BACKEND: 'redis',
      QUEUE_PREFIX: queuePrefix('rel'),
    });
    const workload = makeWorkload({ keys: 2000, total: 3500, transcriptBaseUrl: peers.transcriptBaseUrl, seed: 6 });
    const started = Date.now();
    const load = startLoad(() => svc!.baseUrl, workload.deliveries, { concurrency: 50, retryDelayMs: 200, deadlineMs: 100_000 });

    await waitFor(async () => load.tally.acknowledged >= 1000, 90_000, 20);
    const oldPrimary = sentinel.master();
    const killedAt = Date.now();
    await sentinel.server(sentinel.primaryPort)!.kill('SIGKILL');
    const promoted = await waitFor(async () => sentinel.master() !== oldPrimary && sentinel.master(), 30_000, 100);
    const promotedAfter = (Date.now() - killedAt) / 1000;
    expect(promoted).toBe(`127.0.0.1:${sentinel.replicaPort}`);
    await expectRecovery(load, Date.now(), () => svc!.output());

    const tally = await load.done;
    const outcome = await settle(db.url, workload, peers, tally, { timeoutMs: 60_000, allKeys: true, quietMs: 3000 });
    const figures = failoverFigures(tally, killedAt);
    const during = statusesBetween(tally, killedAt, killedAt + figures.secondsToAccept * 1000 + 200);
    report(
      '6. Sentinel failover (primary SIGKILLed, down-after-milliseconds 1000)',
      outcome,
      {
        'replica promoted after (s)': promotedAfter,
        'refused (503 or no answer) after the kill': figures.refused,
        'seconds from the kill until every delivery was accepted again': figures.secondsToAccept,
        'answers from the kill to recovery': during,
        'scenario duration (s)': Math.round((Date.now() - started) / 1000),
      },
      svc.output(),
    );

    expect(svc.process.exitCode).toBeNull(); // the same process followed the new primary
    expect(Object.keys(during).filter((s) => !['503', '200', 'no answer'].includes(s))).toEqual([]);
    expect(outcome.problems).toEqual([]);
    expect(outcome.lost).toBe(0);
    expect(outcome.duplicated).toBe(0);
    expect(outcome.processed).toBe(workload.keys.length);
  });
});
