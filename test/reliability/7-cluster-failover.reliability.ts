// Scenario 7: the queue runs on a Redis Cluster (three primaries with a replica each, on this suite's
// own ports, cluster-node-timeout 1 s); the primary of the slot holding the queue's hash tag is
// SIGKILLed in the middle of the load. Its replica takes the slot over; the service's cluster clients
// follow the new slot map. Deliveries refused meanwhile get 503; jobs the old primary had not yet
// replicated are put back by the stale-row sweeper.
import { privateCluster, PrivateCluster, waitFor } from '../../scripts/local-services.mjs';
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

// This suite's private ports (17000-17999 belong to it on the shared CI machine; bus ports +10000).
const BASE_PORT = 17600;

describe('reliability 7: Redis Cluster failover', () => {
  let db: TestDatabase;
  let peers: Peers;
  let cluster: PrivateCluster;
  let svc: RunningService | undefined;

  beforeAll(async () => {
    db = await createTestDatabase();
    peers = await startPeers();
    cluster = await privateCluster({ basePort: BASE_PORT, masters: 3, replicasPerMaster: 1, nodeTimeoutMs: 1000 });
  });

  afterAll(async () => {
    await svc?.stop('SIGKILL');
    await cluster?.dispose();
    await peers?.close();
    await db?.drop();
  });

  it("fails the queue's slot over to the replica; the service follows; nothing lost, nothing done twice", async () => {
    const tag = queuePrefix('rel');
    svc = await startService({
      ...FAST_RECOVERY_ENV,
      ...peerEnv(peers),
      DATABASE_URL: db.url,
      REDIS_URL: '',
      REDIS_CLUSTER_NODES: cluster.nodes,
      QUEUE_BACKEND: 'redis',
      QUEUE_PREFIX: `{${tag}}`,
    });
    const slot = cluster.keySlot(tag)!;
    const workload = makeWorkload({ keys: 2000, total: 3500, transcriptBaseUrl: peers.transcriptBaseUrl, seed: 7 });
    const started = Date.now();
    const load = startLoad(() => svc!.baseUrl, workload.deliveries, { concurrency: 50, retryDelayMs: 200, deadlineMs: 100_000 });

    await waitFor(async () => load.tally.acknowledged >= 1000, 90_000, 20);
    const oldPrimary = cluster.slotOwner(slot)!;
    const killedAt = Date.now();
    await cluster.server(oldPrimary)!.kill('SIGKILL');
    const promoted = await waitFor(
      async () => {
        const owner = cluster.slotOwner(slot);
        return owner !== undefined && owner !== oldPrimary && owner;
      },
      30_000,
      100,
    );
    const promotedAfter = (Date.now() - killedAt) / 1000;
    expect(promoted).not.toBe(false);
    await expectRecovery(load, Date.now(), () => svc!.output());

    const tally = await load.done;
    const outcome = await settle(db.url, workload, peers, tally, { timeoutMs: 60_000, allKeys: true, quietMs: 3000 });
    const figures = failoverFigures(tally, killedAt);
    const during = statusesBetween(tally, killedAt, killedAt + figures.secondsToAccept * 1000 + 200);
    report(
      `7. Redis Cluster failover (primary of slot ${slot} SIGKILLed, cluster-node-timeout 1000)`,
      outcome,
      {
        'replica took the slot over after (s)': promotedAfter,
        'refused (503 or no answer) after the kill': figures.refused,
        'seconds from the kill until every delivery was accepted again': figures.secondsToAccept,
        'answers from the kill to recovery': during,
        'scenario duration (s)': Math.round((Date.now() - started) / 1000),
      },
      svc.output(),
    );

    expect(svc.process.exitCode).toBeNull();
    expect(Object.keys(during).filter((s) => !['503', '200', 'no answer'].includes(s))).toEqual([]);
    expect(outcome.problems).toEqual([]);
    expect(outcome.lost).toBe(0);
    expect(outcome.duplicated).toBe(0);
    expect(outcome.processed).toBe(workload.keys.length);
  });
});
