// The queue on Redis as teams run it: through Sentinel and in cluster mode (real redis-server and
// redis-sentinel processes on this suite's own ports), and the boot's answers to a topology set up
// wrong (one line naming the setting, or a clear readiness reason for a Redis of the wrong kind).
import { execFileSync } from 'node:child_process';
import { Redis } from 'ioredis';
import { Client } from 'pg';
import {
  privateCluster,
  PrivateCluster,
  privateSentinel,
  PrivateSentinel,
  privateTlsRedis,
  PrivateTlsRedis,
} from '../scripts/local-services.mjs';
import {
  createTestDatabase,
  deliver,
  MAIN_JS,
  queuePrefix,
  RunningService,
  startService,
  TestDatabase,
  waitFor,
} from './helpers/service.js';
import { ResilientRedis } from '../src/queue/resilient-redis.js';

const OPS_TOKEN = 'redis-topologies-admin-token-0123456789';
// This suite's private ports (17000-17999 belong to it on the shared CI machine).
const SENTINEL_BASE = 17300;
const CLUSTER_BASE = 17400;
const TLS_PORT = 17390;

const getJson = async (url: string) => {
  const res = await fetch(url, { headers: { authorization: `Bearer ${OPS_TOKEN}` } });
  return { status: res.status, body: (await res.json()) as any };
};

/** Runs the service with `env` until it exits (a refused boot); its output. */
function refusedBoot(env: Record<string, string>): { status: number | null; output: string } {
  try {
    const out = execFileSync(process.execPath, [MAIN_JS], {
      env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', WEBHOOK_SECRET: 'test-secret-0123456789abcdef0123456789', ...env },
      encoding: 'utf8',
      timeout: 15_000,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return { status: 0, output: out };
  } catch (err) {
    const e = err as { status: number | null; stdout: string; stderr: string };
    return { status: e.status, output: `${e.stdout}${e.stderr}` };
  }
}

describe('Redis topologies', () => {
  let db: TestDatabase;
  let pg: Client;
  let sentinel: PrivateSentinel;
  let cluster: PrivateCluster;
  let tls: PrivateTlsRedis;
  const services: RunningService[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    pg = new Client({ connectionString: db.url });
    await pg.connect();
    [sentinel, cluster, tls] = await Promise.all([
      privateSentinel({ basePort: SENTINEL_BASE, sentinels: 1 }),
      privateCluster({ basePort: CLUSTER_BASE, masters: 3, replicasPerMaster: 0 }),
      privateTlsRedis({ port: TLS_PORT }),
    ]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all(services.map((s) => s.stop()));
    await pg?.end();
    await Promise.all([sentinel?.dispose(), cluster?.dispose(), tls?.dispose()]);
    await db?.drop();
  });

  const processed = (sessionId: string) =>
    waitFor(async () => {
      const { rows } = await pg.query<{ status: string }>('SELECT status FROM webhook_events WHERE idempotency_key = $1', [
        `session.feedback_submitted:${sessionId}`,
      ]);
      return rows[0]?.status === 'processed';
    }, 20_000);

  const feedback = (sessionId: string) => ({ event: 'session.feedback_submitted', session_id: sessionId, rating: 5, comment: 'fine' });

  it.each([
    [
      'sentinel',
      'sentinel',
      () => ({ REDIS_SENTINELS: sentinel.sentinels, REDIS_SENTINEL_NAME: sentinel.name, QUEUE_PREFIX: queuePrefix('sen') }),
      `127.0.0.1:${SENTINEL_BASE}`,
    ],
    [
      'single node over TLS with a private CA and a client certificate',
      'single',
      () => ({ REDIS_URL: tls.url, REDIS_TLS_CA_FILE: tls.ca, REDIS_TLS_CERT_FILE: tls.cert, REDIS_TLS_KEY_FILE: tls.key }),
      `127.0.0.1:${TLS_PORT}`,
    ],
    ['cluster', 'cluster', () => ({ REDIS_CLUSTER_NODES: cluster.nodes, QUEUE_PREFIX: `{${queuePrefix('clu')}}` }), undefined],
  ])(
    'takes and processes deliveries (%s), and names the topology and node in readiness and metrics',
    async (_name, topology, env, node) => {
      const svc = await startService({ REDIS_URL: '', ...env(), DATABASE_URL: db.url, ADMIN_TOKEN: OPS_TOKEN });
      services.push(svc);
      const sessionId = `${topology}-${Date.now()}`;
      expect((await deliver(svc.baseUrl, feedback(sessionId))).status).toBe(200);
      await processed(sessionId);

      const ready = await getJson(`${svc.baseUrl}/health/ready`);
      expect(ready.status).toBe(200);
      const expectedNode = node ?? `127.0.0.1:${cluster.slotOwner(cluster.keySlot(/\{([^}]+)\}/.exec(svc.env.QUEUE_PREFIX)![1])!)}`;
      expect(ready.body.details.redis).toMatchObject({ status: 'up', topology, node: expectedNode });
      expect(ready.body.details.queue).toMatchObject({ status: 'up', blockingConnection: 'ready' });
      const metrics = await (await fetch(`${svc.baseUrl}/metrics`)).text();
      expect(metrics).toContain(`webhook_queue_redis_info{topology="${topology}",node="${expectedNode}"} 1`);
    },
  );

  it('refuses at boot, in one line naming the setting, a cluster without a hash-tagged prefix, two topologies, a missing CA file', () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ REDIS_CLUSTER_NODES: cluster.nodes, QUEUE_PREFIX: 'bull' }, /QUEUE_PREFIX "bull" has no hash tag/],
      [
        { REDIS_URL: `redis://127.0.0.1:${SENTINEL_BASE}`, REDIS_CLUSTER_NODES: cluster.nodes, QUEUE_PREFIX: '{q}' },
        /REDIS_URL and REDIS_CLUSTER_NODES are both set/,
      ],
      [
        { REDIS_URL: `rediss://127.0.0.1:${SENTINEL_BASE}`, REDIS_TLS_CA_FILE: '/nonexistent/ca.pem' },
        /REDIS_TLS_CA_FILE \/nonexistent\/ca.pem cannot be read/,
      ],
    ];
    for (const [env, line] of cases) {
      const { status, output } = refusedBoot({ DATABASE_URL: db.url, ...env });
      expect(status).toBe(1);
      const lines = output.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^Refusing to start: /);
      expect(lines[0]).toMatch(line);
    }
  });

  it.each([
    [
      'a replica behind REDIS_URL',
      () => ({ REDIS_URL: `redis://127.0.0.1:${SENTINEL_BASE + 1}` }),
      /REDIS_URL names a Redis replica \(role slave\)/,
    ],
    [
      'a standalone server behind REDIS_CLUSTER_NODES',
      () => ({ REDIS_URL: '', REDIS_CLUSTER_NODES: `127.0.0.1:${SENTINEL_BASE}`, QUEUE_PREFIX: '{q}' }),
      /REDIS_CLUSTER_NODES 127.0.0.1:\d+ is not in cluster mode/,
    ],
    [
      'a cluster node behind REDIS_URL',
      () => ({ REDIS_URL: `redis://127.0.0.1:${CLUSTER_BASE}` }),
      /REDIS_URL names a node of a Redis Cluster/,
    ],
  ])('logs one error line and is not ready for %s', async (_name, env, reason) => {
    const svc = await startService({ ...env(), DATABASE_URL: db.url, ADMIN_TOKEN: OPS_TOKEN, LOG_LEVEL: 'info' });
    services.push(svc);
    const ready = await getJson(`${svc.baseUrl}/health/ready`);
    expect(ready.status).toBe(503);
    expect(ready.body.details.redis.message ?? JSON.stringify(ready.body.details.redis)).toMatch(reason);
    const errors = svc
      .output()
      .split('\n')
      .filter((l) => reason.test(l));
    expect(errors.length).toBeGreaterThanOrEqual(1);
    expect(svc.output()).not.toMatch(/^\s+at /m); // no stack traces
    await svc.stop();
  });

  it('connects again when a disconnect reaches a Sentinel client while it asks for the primary (ioredis alone stays ended)', async () => {
    const options = { sentinels: [{ host: '127.0.0.1', port: sentinel.sentinelPorts[0] }], name: sentinel.name, retryStrategy: () => 50 };
    // What a failover's +switch-master or the watchdog does, at the worst moment: the client has just
    // gone to a sentinel to ask for the primary.
    // Resolves once ioredis has ended the client.
    const disconnectWhileConnecting = async (client: Redis) => {
      await client.ping();
      const ended = new Promise((resolve) => client.once('end', resolve));
      client.once('connecting', () => client.disconnect(true));
      client.disconnect(true);
      await ended;
    };
    const plain = new Redis(options).on('error', () => undefined);
    const resilient = new ResilientRedis(options, () => 50).on('error', () => undefined);
    try {
      await Promise.all([disconnectWhileConnecting(plain), disconnectWhileConnecting(resilient)]);
      await waitFor(async () => plain.status === 'end', 5_000);
      await waitFor(async () => resilient.status === 'ready', 5_000);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(plain.status).toBe('end'); // the ioredis behaviour this guards against (ioredis issue 1683)
      expect(await resilient.ping()).toBe('PONG');
      resilient.disconnect();
      await waitFor(async () => resilient.status === 'end', 5_000);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(resilient.status).toBe('end'); // closed by its owner: it stays closed
      // Opened again by its owner (BullMQ resets a blocking connection so): it heals again.
      await resilient.connect();
      await disconnectWhileConnecting(resilient);
      await waitFor(async () => resilient.status === 'ready', 5_000);
      expect(await resilient.ping()).toBe('PONG');
    } finally {
      plain.disconnect();
      resilient.disconnect();
    }
  });
});
