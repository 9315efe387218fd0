// Scenario 7: the queue runs on a Redis Cluster (three primaries with a replica each, on this suite's
// own ports, cluster-node-timeout 1 s); the primary of the slot holding the queue's hash tag is
// SIGKILLed in the middle of the load. Its replica takes the slot over; the service's cluster clients
// follow the new slot map. Deliveries refused meanwhile get 503; jobs the old primary had not yet
// replicated are put back by the stale-row sweeper.
import { privateCluster, PrivateCluster } from '../../scripts/local-services.mjs';
import { createTestDatabase, queuePrefix, RunningService, startService, TestDatabase } from '../helpers/service.js';
import { runFailover } from './failover.js';
import { FAST_RECOVERY_ENV, peerEnv, Peers, startPeers } from './harness.js';

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
    await runFailover(svc, db.url, peers, {
      title: `7. Redis Cluster failover (primary of slot ${slot} SIGKILLed, cluster-node-timeout 1000)`,
      promotedLabel: 'replica took the slot over after (s)',
      seed: 7,
      primary: () => cluster.slotOwner(slot),
      kill: (port) => cluster.server(port)!.kill('SIGKILL'),
    });
  });
});
