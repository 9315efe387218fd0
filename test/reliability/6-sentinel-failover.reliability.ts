// Scenario 6: the queue's Redis runs under Sentinel (a private primary, one replica and three
// sentinels on this suite's ports); the primary is SIGKILLed in the middle of the load. The sentinels
// promote the replica after down-after-milliseconds (1 s); the producers and the worker follow it
// through the sentinels. Deliveries refused meanwhile get 503 (never a 2xx that is then lost); jobs
// the primary took but had not yet replicated are put back by the stale-row sweeper.
import { privateSentinel, PrivateSentinel } from '../../scripts/local-services.mjs';
import { createTestDatabase, queuePrefix, RunningService, startService, TestDatabase } from '../helpers/service.js';
import { runFailover } from './failover.js';
import { FAST_RECOVERY_ENV, peerEnv, Peers, startPeers } from './harness.js';

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
    const promoted = await runFailover(svc, db.url, peers, {
      title: '6. Sentinel failover (primary SIGKILLed, down-after-milliseconds 1000)',
      promotedLabel: 'replica promoted after (s)',
      seed: 6,
      primary: () => sentinel.master(),
      kill: () => sentinel.server(sentinel.primaryPort)!.kill('SIGKILL'),
    });
    expect(promoted).toBe(`127.0.0.1:${sentinel.replicaPort}`);
  });
});
