import { randomBytes } from 'node:crypto';
import {
  closedPort,
  createTestDatabase,
  freePort,
  deliver,
  queuePrefix,
  RunningService,
  startService,
  TestDatabase,
  TEST_SECRET,
  waitFor,
} from './helpers/service.js';
import { json, Peer, startPeer } from './helpers/peers.js';
import { signDelivery } from '../src/webhooks/webhook-signature.js';

// Generous: on a loaded CI machine a cold Node start can take tens of seconds.
const STARTUP_MS = 60_000;

/** Sum of the series `name` whose labels include `labels` (0 when there are none). */
function sample(exposition: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of exposition.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[3]);
  }
  return sum;
}

/** The admin token these services run with: the probes show their details to it. */
const OPS_TOKEN = 'operability-admin-token-0123456789';
const metrics = async (t: RunningService) => (await fetch(`${t.baseUrl}/metrics`)).text();
const getJson = async (url: string, token?: string) => {
  const res = await fetch(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  return { status: res.status, body: (await res.json()) as any };
};
const logLines = (t: RunningService) =>
  t
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));

describe('probes with a dependency down', () => {
  let db: TestDatabase;
  let pgDown: RunningService;
  let redisDown: RunningService;
  /** pgDown's management listener (MANAGEMENT_PORT): the probes' details and the metrics are there. */
  let management: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    const managementPort = await freePort();
    management = `http://127.0.0.1:${managementPort}`;
    [pgDown, redisDown] = await Promise.all([
      startService(
        { DATABASE_URL: `postgres://postgres@127.0.0.1:${await closedPort()}/nowhere`, MANAGEMENT_PORT: String(managementPort) },
        { waitForMigrations: false, timeoutMs: STARTUP_MS },
      ),
      startService(
        { DATABASE_URL: db.url, REDIS_URL: `redis://127.0.0.1:${await closedPort()}`, ADMIN_TOKEN: OPS_TOKEN },
        { timeoutMs: STARTUP_MS },
      ),
    ]);
  });

  afterAll(async () => {
    await Promise.all([pgDown?.stop(), redisDown?.stop()]);
    await db?.drop();
  });

  it('PostgreSQL down: live 200, ready 503 naming the database, deliveries 503, metrics served', async () => {
    expect(await getJson(`${management}/health/live`)).toEqual({ status: 200, body: expect.objectContaining({ status: 'ok' }) });
    const ready = await getJson(`${management}/health/ready`);
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ status: 'error', error: { database: { status: 'down' } }, info: { lifecycle: { status: 'up' } } });
    expect((await deliver(pgDown.baseUrl, { event: 'interview.completed', session_id: 'pg-down' })).status).toBe(503);
    const text = await (await fetch(`${management}/metrics`)).text();
    expect(sample(text, 'app_ready')).toBe(0);
    expect(sample(text, 'webhooks_received_total', { status: 'unavailable' })).toBe(1);
  });

  it('MANAGEMENT_PORT: the public port serves neither metrics nor probes, the management port nothing else', async () => {
    for (const path of ['/metrics', '/health/live', '/health/ready', '/health/ready?x=1']) {
      expect((await fetch(`${pgDown.baseUrl}${path}`)).status).toBe(404);
    }
    expect((await fetch(`${management}/webhooks/ai-interview`, { method: 'POST' })).status).toBe(404);
    expect((await fetch(`${management}/admin/events`)).status).toBe(404);
  });

  it('readiness tells an anonymous caller only up or down; details with an admin token', async () => {
    expect(await getJson(`${redisDown.baseUrl}/health/ready`)).toEqual({ status: 503, body: { status: 'error' } });
    expect(await getJson(`${redisDown.baseUrl}/health/live`)).toEqual({ status: 200, body: { status: 'ok' } });
    expect(await getJson(`${redisDown.baseUrl}/health/ready`, 'a-wrong-token')).toEqual({ status: 503, body: { status: 'error' } });
    expect((await getJson(`${redisDown.baseUrl}/health/ready`, OPS_TOKEN)).body.error).toBeDefined();
  });

  it('Redis down: live 200, ready 503 naming Redis and the queue, metrics answered fast', async () => {
    expect((await getJson(`${redisDown.baseUrl}/health/live`)).status).toBe(200);
    const ready = await getJson(`${redisDown.baseUrl}/health/ready`, OPS_TOKEN);
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({
      status: 'error',
      error: { redis: { status: 'down' }, queue: { status: 'down' } },
      info: { database: { status: 'up' } },
    });
    const started = Date.now();
    const text = await metrics(redisDown);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(sample(text, 'app_ready')).toBe(0);
    expect(text).not.toMatch(/^webhook_queue_jobs\{/m); // no stale queue depth while the backend is down
  });
});

describe('metrics and logs as deliveries arrive', () => {
  let db: TestDatabase;
  let t: RunningService;

  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startService(
      { DATABASE_URL: db.url, LOG_LEVEL: 'debug', TRANSCRIPT_ALLOWED_HOSTS: '127.0.0.1:1' },
      { timeoutMs: STARTUP_MS },
    );
  });

  afterAll(async () => {
    await t?.stop();
    await db?.drop();
  });

  it('counts deliveries by status and event, times them, and counts job outcomes', async () => {
    const event = 'session.feedback_submitted';
    // Ready once the database and the queue answer (each check is bounded at 1 s).
    const before = await waitFor(async () => {
      const text = await metrics(t);
      return sample(text, 'app_ready') === 1 ? text : undefined;
    });
    for (let i = 0; i < 3; i++)
      expect((await deliver(t.baseUrl, { event, session_id: `m-${i}`, feedback: { rating: i } })).status).toBe(200);
    expect((await deliver(t.baseUrl, { event, session_id: 'm-0', feedback: { rating: 0 } })).body.status).toBe('duplicate');
    expect((await deliver(t.baseUrl, { event, session_id: 'm-x' }, { secret: 'wrong' })).status).toBe(401);

    const after = await waitFor(async () => {
      const text = await metrics(t);
      return sample(text, 'webhook_jobs_total', { event, outcome: 'processed' }) -
        sample(before, 'webhook_jobs_total', { event, outcome: 'processed' }) >=
        3
        ? text
        : undefined;
    });
    const delta = (name: string, labels: Record<string, string>) => sample(after, name, labels) - sample(before, name, labels);
    expect(delta('webhooks_received_total', { event, status: 'accepted' })).toBe(3);
    expect(delta('webhooks_received_total', { event, status: 'duplicate' })).toBe(1);
    expect(delta('webhooks_received_total', { event: 'unknown', status: 'invalid_signature' })).toBe(1);
    expect(delta('webhook_ingest_duration_seconds_count', { status: 'accepted' })).toBe(3);
    expect(delta('webhook_ingest_duration_seconds_bucket', { status: 'accepted', le: '+Inf' })).toBe(3);
    expect(delta('webhook_ingest_duration_seconds_sum', { status: 'accepted' })).toBeGreaterThan(0);
    expect(delta('webhook_jobs_total', { event, outcome: 'processed' })).toBe(3);
    expect(delta('webhook_processing_duration_seconds_count', { event })).toBe(3);
    expect(sample(after, 'webhook_queue_jobs', { queue: 'webhooks', state: 'waiting' })).toBe(0);
    expect(after).toMatch(/^webhook_queue_jobs\{queue="webhooks",state="failed"\} \d+$/m);
    expect(sample(after, 'process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(sample(after, 'nodejs_eventloop_lag_p99_seconds')).toBeGreaterThan(0);
  });

  it('logs JSON that follows one request id from the request into its job, with secrets and emails left out', async () => {
    const requestId = `ops-req-${randomBytes(3).toString('hex')}`;
    const raw = JSON.stringify({
      event: 'interview.completed',
      session_id: 'log-1',
      invitee_email: 'alice.private@example.com',
      // Not on TRANSCRIPT_ALLOWED_HOSTS: a permanent failure, which the processor logs.
      transcript_url: 'https://transcripts.example.com/t.json',
    });
    const signature = signDelivery(raw, TEST_SECRET)['x-webhook-signature'];
    const res = await fetch(`${t.baseUrl}/webhooks/ai-interview`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-webhook-signature': signature,
        'x-request-id': requestId,
        authorization: 'Bearer do-not-log',
      },
      body: raw,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe(requestId);
    await waitFor(async () => (await db.query(`SELECT status FROM webhook_events WHERE session_id = 'log-1'`))[0]?.status === 'failed');
    await fetch(`${t.baseUrl}/health/ready`);
    await fetch(`${t.baseUrl}/metrics`);

    const lines = await waitFor(async () => {
      const all = logLines(t);
      return all.some((l) => l.requestId === requestId && l.context === 'WebhookEventsProcessor') ? all : undefined;
    });
    const ours = lines.filter((l) => l.requestId === requestId);
    // The request's own line, and the worker's line about the job it became.
    expect(ours).toContainEqual(
      expect.objectContaining({ level: 'info', msg: 'request completed', method: 'POST', url: '/webhooks/ai-interview', statusCode: 200 }),
    );
    expect(ours).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        context: 'WebhookEventsProcessor',
        eventId: expect.any(String),
        msg: expect.stringMatching(/failed for good/),
      }),
    );
    // Probes and scrapes stay out of the request log.
    expect(lines.filter((l) => typeof l.url === 'string' && (l.url.startsWith('/health') || l.url.startsWith('/metrics')))).toEqual([]);
    const output = t.output();
    for (const secret of ['alice.private@example.com', signature, 'do-not-log']) expect(output).not.toContain(secret);
  });

  it('answers unknown routes with the status and message, and a request id header', async () => {
    const res = await fetch(`${t.baseUrl}/nope`);
    expect(res.status).toBe(404);
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(await res.json()).toMatchObject({ statusCode: 404, message: 'Cannot GET /nope' });
    // A caller's id is kept only if it is a plain token: it ends up in every log line and in the row.
    const odd = await fetch(`${t.baseUrl}/nope`, { headers: { 'x-request-id': 'x"} {"level":"fatal' } });
    expect(odd.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('SIGTERM', () => {
  let db: TestDatabase;
  let peer: Peer;
  const transcript = { segments: [{ speaker: 'AI', text: 'Tell me about yourself.' }] };

  beforeAll(async () => {
    db = await createTestDatabase();
    peer = await startPeer();
  });

  afterAll(async () => {
    await peer?.close();
    await db?.drop();
  });

  const interviewRow = (sessionId: string) =>
    db.query<{ status: string; transcript: unknown }>(
      `SELECT e.status, i.transcript FROM webhook_events e LEFT JOIN interviews i ON i.session_id = e.session_id WHERE e.session_id = $1`,
      [sessionId],
    );

  it('stops taking deliveries, lets the active job finish, and exits 0', async () => {
    peer.route('/slow.json', (_req, res) => void setTimeout(() => json(res, 200, transcript), 2500).unref());
    const t = await startService(
      { DATABASE_URL: db.url, TRANSCRIPT_ALLOWED_HOSTS: peer.host, SHUTDOWN_TIMEOUT_MS: '20000', ADMIN_TOKEN: OPS_TOKEN },
      { timeoutMs: STARTUP_MS },
    );
    try {
      const res = await deliver(t.baseUrl, { event: 'interview.completed', session_id: 'term-1', transcript_url: `${peer.url}/slow.json` });
      expect(res.status).toBe(200);
      await waitFor(async () => peer.hits('/slow.json').length === 1, 10_000, 20);

      const signalled = Date.now();
      t.process.kill('SIGTERM');
      // Readiness goes down first; liveness stays up; new deliveries are refused while the job runs.
      const ready = await waitFor(
        async () => {
          const r = await getJson(`${t.baseUrl}/health/ready`, OPS_TOKEN);
          return r.status === 503 && r.body.error?.lifecycle ? r : undefined;
        },
        2000,
        20,
      );
      expect(ready.body.error.lifecycle).toEqual({ status: 'down', message: 'shutting down' });
      expect((await getJson(`${t.baseUrl}/health/live`)).status).toBe(200);
      expect((await deliver(t.baseUrl, { event: 'interview.completed', session_id: 'term-late' })).status).toBe(503);

      expect(await t.exited).toBe(0);
      const took = Date.now() - signalled;
      expect(took).toBeGreaterThan(1000); // it waited for the job
      expect(took).toBeLessThan(15_000);
      expect(await interviewRow('term-1')).toEqual([{ status: 'processed', transcript }]);
      expect(await db.query(`SELECT 1 FROM webhook_events WHERE session_id = 'term-late'`)).toEqual([]);
    } finally {
      await t.stop();
    }
  });

  it('cuts a job off at SHUTDOWN_TIMEOUT_MS, exits 0, and the job completes after a restart', async () => {
    let slow = true;
    peer.route('/stuck.json', (_req, res) =>
      slow ? void setTimeout(() => json(res, 200, transcript), 30_000).unref() : json(res, 200, transcript),
    );
    const env = {
      DATABASE_URL: db.url,
      TRANSCRIPT_ALLOWED_HOSTS: peer.host,
      SHUTDOWN_TIMEOUT_MS: '500',
      QUEUE_PREFIX: queuePrefix('ops-cut'),
      // Short locks so that the job the first process held is found stalled quickly after it exits.
      WORKER_LOCK_DURATION_MS: '2000',
      WORKER_STALLED_INTERVAL_MS: '500',
    };
    const first = await startService(env, { timeoutMs: STARTUP_MS });
    try {
      expect(
        (await deliver(first.baseUrl, { event: 'interview.completed', session_id: 'term-2', transcript_url: `${peer.url}/stuck.json` }))
          .status,
      ).toBe(200);
      await waitFor(async () => peer.hits('/stuck.json').length === 1, 10_000, 20);
      const signalled = Date.now();
      expect(await first.stop('SIGTERM')).toBe(0);
      expect(Date.now() - signalled).toBeLessThan(5000);
      expect((await interviewRow('term-2'))[0].status).toBe('processing');
    } finally {
      await first.stop();
    }

    slow = false;
    const second = await startService(env, { timeoutMs: STARTUP_MS });
    try {
      await waitFor(async () => (await interviewRow('term-2'))[0]?.status === 'processed', 20_000);
      expect(await interviewRow('term-2')).toEqual([{ status: 'processed', transcript }]);
    } finally {
      expect(await second.stop()).toBe(0);
    }
  });
});

describe('APP_ROLE=api and APP_ROLE=worker', () => {
  let db: TestDatabase;
  let api: RunningService;
  let worker: RunningService | undefined;

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    await Promise.all([api?.stop(), worker?.stop()]);
    await db?.drop();
  });

  it('process together an event that neither handles alone', async () => {
    const prefix = queuePrefix('ops-roles');
    api = await startService(
      { DATABASE_URL: db.url, APP_ROLE: 'api', QUEUE_PREFIX: prefix, ADMIN_TOKEN: OPS_TOKEN },
      { timeoutMs: STARTUP_MS },
    );
    const res = await deliver(api.baseUrl, {
      event: 'session.feedback_submitted',
      session_id: 'roles-1',
      feedback: { rating: 5, comment: 'both' },
    });
    expect(res.body.status).toBe('accepted');
    const apiReady = await getJson(`${api.baseUrl}/health/ready`, OPS_TOKEN);
    // Waiting in the queue, with no worker to take it: the row stays as recorded.
    expect(apiReady.body.info.queue).toMatchObject({ status: 'up', worker: 'none (api role)', waiting: 1 });
    expect(await db.query(`SELECT status FROM webhook_events WHERE session_id = 'roles-1'`)).toEqual([{ status: 'received' }]);

    worker = await startService(
      { DATABASE_URL: db.url, APP_ROLE: 'worker', QUEUE_PREFIX: prefix, ADMIN_TOKEN: OPS_TOKEN },
      { timeoutMs: STARTUP_MS },
    );
    // The worker serves no deliveries, only probes and metrics.
    expect((await deliver(worker.baseUrl, { event: 'session.feedback_submitted', session_id: 'roles-2' })).status).toBe(404);
    await waitFor(
      async () => (await db.query(`SELECT status FROM webhook_events WHERE session_id = 'roles-1'`))[0].status === 'processed',
      30_000,
    );
    expect(await db.query(`SELECT rating, comment FROM feedback WHERE session_id = 'roles-1'`)).toEqual([{ rating: 5, comment: 'both' }]);

    const workerReady = await getJson(`${worker.baseUrl}/health/ready`, OPS_TOKEN);
    expect(workerReady.status).toBe(200);
    expect(workerReady.body.info.queue).toMatchObject({ status: 'up', worker: 'running' });
    const workerMetrics = await metrics(worker);
    expect(sample(workerMetrics, 'webhook_jobs_total', { event: 'session.feedback_submitted', outcome: 'processed' })).toBe(1);
    expect(sample(workerMetrics, 'app_info', { role: 'worker' })).toBe(1);
    expect(sample(await metrics(api), 'webhooks_received_total', { event: 'session.feedback_submitted', status: 'accepted' })).toBe(1);
  });
});
