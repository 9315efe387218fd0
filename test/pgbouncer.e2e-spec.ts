import { Client } from 'pg';
import {
  Certificates,
  makeCertificates,
  PrivatePgBouncer,
  privatePgBouncer,
  PrivatePostgres,
  privatePostgres,
} from '../scripts/local-services.mjs';
import { closedPort, createTestDatabase, deliver, RunningService, startService, TestDatabase, waitFor } from './helpers/service.js';

// PostgreSQL as production runs it: behind PgBouncer in transaction mode (DATABASE_POOL_MODE), with
// the PostgreSQL queue's LISTEN on a direct connection or polling, and TLS checked as libpq does.
// One private PostgreSQL (ssl=on, certificates made here) and one private PgBouncer serve the file.
describe('PostgreSQL behind PgBouncer (transaction mode) and over TLS', () => {
  let certs: Certificates;
  let otherCa: Certificates;
  let pg: PrivatePostgres;
  let bouncer: PrivatePgBouncer;
  const started: RunningService[] = [];
  const dbs: TestDatabase[] = [];

  beforeAll(async () => {
    certs = makeCertificates({ hosts: ['localhost'] });
    otherCa = makeCertificates({ hosts: ['localhost'], name: 'other' });
    pg = await privatePostgres({ settings: { ssl: 'on', ssl_cert_file: certs.cert, ssl_key_file: certs.key, max_connections: 200 } });
    bouncer = await privatePgBouncer({ target: pg.url });
  }, 60_000);

  afterAll(async () => {
    await Promise.all(started.map((s) => s.stop()));
    for (const db of dbs) await db.drop().catch(() => undefined);
    await bouncer?.dispose();
    await pg?.dispose();
    certs?.dispose();
    otherCa?.dispose();
  });

  /** A fresh database on the private server; `viaBouncer` is its URL through PgBouncer. */
  async function database() {
    const db = await createTestDatabase(pg.url);
    dbs.push(db);
    // BullMQ pins search_path with a startup parameter that PgBouncer refuses: the database carries it.
    await db.query(`ALTER DATABASE ${db.name} SET search_path = "$user", public, bullmq`);
    const viaBouncer = new URL(db.url);
    viaBouncer.port = String(bouncer.port);
    return { db, viaBouncer: viaBouncer.toString() };
  }

  async function start(env: Record<string, string | undefined>, waitForMigrations = true) {
    const svc = await startService({ LOG_LEVEL: 'info', ...env }, { waitForMigrations });
    started.push(svc);
    return svc;
  }

  const processed = (db: TestDatabase, prefix: string) => async () =>
    Number(
      (
        await db.query<{ n: string }>(`SELECT count(*) AS n FROM webhook_events WHERE session_id LIKE $1 AND status = 'processed'`, [
          `${prefix}%`,
        ])
      )[0].n,
    );

  /** 60 deliveries over 30 keys, at once: 30 accepted, 30 duplicates, all 30 processed. */
  async function burst(svc: RunningService, db: TestDatabase, prefix: string) {
    const bodies = Array.from({ length: 60 }, (_, i) => ({
      event: 'session.feedback_submitted',
      session_id: `${prefix}${i % 30}`,
      feedback: { rating: i % 5 },
    }));
    const results = await Promise.all(bodies.map((b) => deliver(svc.baseUrl, b)));
    expect(results.map((r) => r.status)).toEqual(bodies.map(() => 200));
    expect(results.filter((r) => r.body.status === 'duplicate')).toHaveLength(30);
    await waitFor(async () => (await processed(db, prefix)()) === 30, 30_000);
    expect(Number((await db.query(`SELECT count(*) AS n FROM feedback WHERE session_id LIKE $1`, [`${prefix}%`]))[0].n)).toBe(30);
  }

  /** Median time from a delivery's answer to its row's `processed`, one at a time on an idle queue. */
  async function idleLatencyMs(svc: RunningService, db: TestDatabase, prefix: string, n = 6): Promise<number> {
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      const res = await deliver(svc.baseUrl, { event: 'session.feedback_submitted', session_id: `${prefix}${i}`, feedback: { rating: 3 } });
      const t0 = Date.now();
      expect(res.status).toBe(200);
      await waitFor(async () => (await processed(db, `${prefix}${i}`)()) === 1, 10_000, 5);
      times.push(Date.now() - t0);
      await new Promise((r) => setTimeout(r, 150 + 37 * i)); // land at different points of a poll
    }
    return times.sort((a, b) => a - b)[Math.floor(n / 2)];
  }

  it('migrates through PgBouncer from two instances at once and processes deliveries (Redis queue)', async () => {
    const { db, viaBouncer } = await database();
    const env = { DATABASE_URL: viaBouncer, DATABASE_POOL_MODE: 'transaction' };
    const [a, b] = await Promise.all([start(env), start(env)]);
    expect(a.output()).toContain('PostgreSQL pool mode: transaction');
    expect(a.output()).toContain('PostgreSQL TLS: off');
    const [{ n }] = await db.query<{ n: string }>('SELECT count(*) AS n FROM migrations');
    expect(Number(n)).toBeGreaterThan(0);
    await burst(a, db, 'rb-');
    // The other instance (a queue prefix of its own) booted alongside and waited for the lease: it
    // becomes ready too, once it took the lease in turn and found the migrations done.
    await waitFor(async () => (await fetch(`${b.baseUrl}/health/ready`)).status === 200, 20_000, 100);
    // Nothing was prepared on PgBouncer's server connections (they would be left to other clients).
    const probe = new Client({ connectionString: db.url });
    await probe.connect();
    expect(
      (
        await probe.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND state LIKE 'idle in transaction%'`, [
          db.name,
        ])
      ).rows[0].n,
    ).toBe(0);
    await probe.end();
  }, 60_000);

  let listenMs = 0;
  let pollMs = 0;

  it('runs the PostgreSQL queue through PgBouncer with its LISTEN on DATABASE_DIRECT_URL over TLS (verify-full)', async () => {
    const { db, viaBouncer } = await database();
    const direct = new URL(db.url);
    direct.hostname = 'localhost';
    direct.search = `?sslmode=verify-full&sslrootcert=${certs.ca}`;
    const svc = await start({
      DATABASE_URL: viaBouncer,
      DATABASE_POOL_MODE: 'transaction',
      DATABASE_DIRECT_URL: direct.toString(),
      QUEUE_BACKEND: 'postgres',
      REDIS_URL: `redis://127.0.0.1:${await closedPort()}`,
    });
    expect(svc.output()).toContain(`PostgreSQL TLS (DATABASE_DIRECT_URL): verify-full (CA ${certs.ca}, hostname checked)`);
    expect(svc.output()).toContain('queue workers: LISTEN on DATABASE_DIRECT_URL');
    await burst(svc, db, 'pd-');
    listenMs = await idleLatencyMs(svc, db, 'pdl-');
    // The LISTEN connections are the encrypted ones on the direct path.
    const [{ n }] = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.datname = $1 AND s.ssl`,
      [db.name],
    );
    expect(n).toBeGreaterThan(0);
  }, 60_000);

  it('polls for jobs without DATABASE_DIRECT_URL, at a measured cost in latency', async () => {
    const { db, viaBouncer } = await database();
    const svc = await start({
      DATABASE_URL: viaBouncer,
      DATABASE_POOL_MODE: 'transaction',
      QUEUE_BACKEND: 'postgres',
      REDIS_URL: `redis://127.0.0.1:${await closedPort()}`,
    });
    expect(svc.output()).toContain('queue workers: polling every 0.2 s');
    await burst(svc, db, 'pp-');
    pollMs = await idleLatencyMs(svc, db, 'ppl-');
    console.log(`idle delivery-to-processed median: LISTEN ${listenMs} ms, polling ${pollMs} ms`);
    expect(pollMs).toBeLessThan(1000);
  }, 60_000);

  it('connects with verify-full (CA and host name) and with verify-ca to an address the certificate does not name', async () => {
    const { db } = await database();
    const url = new URL(db.url);
    url.hostname = 'localhost';
    url.search = `?sslmode=verify-full&sslrootcert=${certs.ca}`;
    const svc = await start({ DATABASE_URL: url.toString() });
    expect(svc.output()).toContain(`PostgreSQL TLS: verify-full (CA ${certs.ca}, hostname checked)`);
    await burst(svc, db, 'tf-');
    const [{ n }] = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.datname = $1 AND NOT s.ssl AND a.pid <> pg_backend_pid() AND a.backend_type = 'client backend'`,
      [db.name],
    );
    expect(n).toBe(0);

    // 127.0.0.1 is not in the certificate: verify-ca connects all the same.
    const ca = new URL(db.url);
    ca.search = `?sslmode=verify-ca&sslrootcert=${certs.ca}`;
    const svcCa = await start({ DATABASE_URL: ca.toString(), QUEUE_BACKEND: 'postgres' });
    expect(svcCa.output()).toContain(`PostgreSQL TLS: verify-ca (CA ${certs.ca}, hostname not checked)`);
    expect((await deliver(svcCa.baseUrl, { event: 'interview.completed', session_id: 'tca-1' })).status).toBe(200);
    await waitFor(async () => (await processed(db, 'tca-1')()) === 1);
  }, 60_000);

  it.each([
    [
      'a host name the certificate does not name',
      (u: URL) => (u.search = `?sslmode=verify-full&sslrootcert=${certs.ca}`),
      /does not match|altnames/i,
    ],
    [
      'a CA that did not sign it',
      (u: URL) => ((u.hostname = 'localhost'), (u.search = `?sslmode=verify-full&sslrootcert=${otherCa.ca}`)),
      /self.signed|unable to verify|certificate/i,
    ],
  ])(
    'refuses %s: not ready, deliveries 503, the reason logged',
    async (_name, edit, reason) => {
      const { db } = await database();
      const url = new URL(db.url);
      edit(url);
      const svc = await start({ DATABASE_URL: url.toString() }, false);
      await waitFor(async () => /PostgreSQL not available yet/.test(svc.output()));
      expect(svc.output()).toMatch(reason);
      expect((await fetch(`${svc.baseUrl}/health/ready`)).status).toBe(503);
      expect((await deliver(svc.baseUrl, { event: 'interview.completed', session_id: 'tls-refused' })).status).toBe(503);
    },
    60_000,
  );
});
