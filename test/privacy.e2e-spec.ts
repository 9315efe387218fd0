import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { Queue } from 'bullmq';
import { DataSource } from 'typeorm';
import { migrations } from '../src/database/data-source.js';
import { scanOutput, scanRedis, scanTables } from './helpers/markers.js';
import { json, Peer, startPeer, startSlack } from './helpers/peers.js';
import {
  createTestDatabase,
  deliver,
  queueIdle,
  queuePrefix,
  RunningService,
  startService,
  TEST_REDIS_URL,
  TestDatabase,
  waitFor,
} from './helpers/service.js';

/**
 * The personal-data lifecycle (docs/privacy.md) against real PostgreSQL and Redis: erasure across every
 * table and the queue, on both queue backends; erasure surviving redelivery; an erasure racing an
 * event in flight; retention passes with two replicas; bad input. Personal data travels as marker
 * strings, and every text and JSON column of every table, the queue and the service's log output
 * (at LOG_LEVEL=trace) are searched for them.
 */
const run = randomBytes(3).toString('hex');
const ALICE = `alice-token-${randomBytes(12).toString('hex')}`;
const BOB = `bob-token-${randomBytes(12).toString('hex')}`;
const ADMIN_TOKENS = `alice:${ALICE},bob:${BOB}`;

const setups: Record<string, () => Promise<void>> = {};
const teardowns: Record<string, () => Promise<void>> = {};
const BOOT = { timeoutMs: 50_000 };
beforeAll(async () => {
  await Promise.all(Object.values(setups).map((start) => start()));
}, 120_000);
afterAll(async () => {
  await Promise.all(Object.values(teardowns).map((stop) => stop()));
});

function admin(t: RunningService, token: string) {
  return async (path: string, init: { method?: string; body?: unknown } = {}) => {
    const res = await fetch(`${t.baseUrl}${path}`, {
      method: init.method ?? 'GET',
      headers: { authorization: `Bearer ${token}`, ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
    });
    return { status: res.status, body: (await res.json()) as any };
  };
}

describe.each(['redis', 'postgres'] as const)('erasure, queue on %s', (backend) => {
  let db: TestDatabase;
  let t: RunningService;
  let host: Peer;
  let slack: Awaited<ReturnType<typeof startSlack>>;
  const tag = `${backend}-${run}`;
  const EMAIL = `Erase.Me+${tag}@Example.com`;
  const EMAIL_MARKER = `erase.me+${tag}`;
  const TRANSCRIPT_MARKER = `TRANSCRIPT-MARKER-${tag}`;
  const COMMENT_MARKER = `COMMENT-MARKER-${tag}`;
  const markers = [EMAIL_MARKER, TRANSCRIPT_MARKER, COMMENT_MARKER];
  const session = (name: string) => `s-${name}-${tag}`;
  let held: ServerResponse | undefined;

  setups[backend] = async () => {
    db = await createTestDatabase();
    [host, slack] = await Promise.all([startPeer(), startSlack()]);
    host.route('/t/ok.json', (_req, res) => json(res, 200, { lines: [{ speaker: 'candidate', text: TRANSCRIPT_MARKER }] }));
    host.route('/t/missing.json', (_req, res) => json(res, 404, { error: TRANSCRIPT_MARKER }));
    host.route('/t/flaky.json', (_req, res) => json(res, 500, { error: 'down' }));
    host.route('/t/held.json', (_req, res) => void (held = res));
    t = await startService(
      {
        DATABASE_URL: db.url,
        ...(backend === 'postgres' ? { QUEUE_BACKEND: 'postgres', REDIS_URL: undefined } : {}),
        TRANSCRIPT_ALLOWED_HOSTS: host.host,
        SLACK_WEBHOOK_URL: `${slack.url}/hooks/slack`,
        ADMIN_TOKENS,
        // A failed first attempt waits in the queue for its retry: an event still queued when its subject is erased.
        JOB_BACKOFF_MS: '60000',
        LOG_LEVEL: 'trace',
      },
      BOOT,
    );
  };
  teardowns[backend] = async () => {
    await t?.stop();
    await Promise.all([host?.close(), slack?.close()]);
    await db?.drop();
  };

  const interview = (name: string, transcript: string, email = EMAIL) => ({
    event: 'interview.completed',
    session_id: session(name),
    invitee_email: email,
    transcript_url: `${host.url}/t/${transcript}.json`,
    total_minutes: 12,
  });
  const feedback = (name: string) => ({
    event: 'session.feedback_submitted',
    session_id: session(name),
    feedback: { rating: 4, comment: `I liked it ${COMMENT_MARKER}` },
  });
  const status = async (name: string, event = 'interview.completed') =>
    (await db.query<{ status: string }>(`SELECT status FROM webhook_events WHERE idempotency_key = $1`, [`${event}:${session(name)}`]))[0]
      ?.status;

  it('erases a person everywhere, keeps them erased on redelivery, and audits each step with its actor', async () => {
    const alice = admin(t, ALICE);
    const bob = admin(t, BOB);
    const bodies = [interview('done', 'ok'), feedback('done'), interview('dead', 'missing'), interview('queued', 'flaky')];
    for (const body of bodies) expect((await deliver(t.baseUrl, body)).status).toBe(200);
    await waitFor(
      async () => (await status('done')) === 'processed' && (await status('done', 'session.feedback_submitted')) === 'processed',
    );
    await waitFor(async () => (await status('dead')) === 'failed');
    await waitFor(async () => host.hits('/t/flaky.json').length === 1 && (await status('queued')) === 'processing');
    expect(slack.posts().filter((p) => JSON.stringify(p.json).includes(session('done')))).toHaveLength(1);

    // Operators at work: alice reads a dead letter's payload, bob replays it (it fails again).
    const [dead] = await db.query<{ id: string }>(`SELECT id FROM webhook_events WHERE session_id = $1`, [session('dead')]);
    expect((await alice(`/admin/events/${dead.id}`)).status).toBe(200);
    expect((await bob(`/admin/events/${dead.id}/replay`, { method: 'POST' })).status).toBe(202);
    await waitFor(async () => host.hits('/t/missing.json').length === 2 && (await status('dead')) === 'failed');

    // Subject access before: everything about the person, as one document.
    const before = await alice(`/admin/subjects?email=${encodeURIComponent(EMAIL)}`);
    expect(before.status).toBe(200);
    expect(before.body.subject).toEqual({
      email: EMAIL.toLowerCase(),
      session_ids: [session('dead'), session('done'), session('queued')].sort(),
    });
    expect(before.body.erased).toBe(false);
    expect(before.body.records.inbox.events).toHaveLength(4);
    expect(JSON.stringify(before.body.records.interviews)).toContain(TRANSCRIPT_MARKER);
    expect(JSON.stringify(before.body.records.feedback)).toContain(COMMENT_MARKER);

    // The erasure, by email as the person wrote it (normalised: trimmed, lower-cased).
    const erased = await alice('/admin/erasures', { method: 'POST', body: { email: `  ${EMAIL.toUpperCase()} ` } });
    expect(erased.status).toBe(200);
    expect(erased.body).toMatchObject({
      subject: 'email',
      status: 'completed',
      counts: { inbox_events: 4, dead_letters: 1, interviews: 1, transcripts: 1, feedback: 1, notifications: 1 },
    });
    expect((await alice(`/admin/erasures/${erased.body.id}`)).body).toEqual(erased.body);

    // The queued retry runs now: it finds its row gone and does nothing.
    if (backend === 'redis') {
      const queue = new Queue('webhooks', { connection: { url: TEST_REDIS_URL }, prefix: t.env.QUEUE_PREFIX });
      try {
        await queue.promoteJobs();
        await queueIdle(t);
      } finally {
        await queue.close();
      }
    }
    expect(host.hits('/t/flaky.json')).toHaveLength(1);

    // Redelivered, every event is erased and nothing is stored; so is a new event of an erased
    // session (no email), and a new session seen with the erased email, and that session's feedback.
    for (const body of [...bodies, { event: 'session.note_added', session_id: session('done') }]) {
      expect(await deliver(t.baseUrl, body)).toEqual({ status: 200, body: { status: 'erased' } });
    }
    expect(await deliver(t.baseUrl, interview('later', 'ok'))).toEqual({ status: 200, body: { status: 'erased' } });
    expect(await deliver(t.baseUrl, feedback('later'))).toEqual({ status: 200, body: { status: 'erased' } });
    expect(await db.query(`SELECT session_id FROM webhook_events WHERE session_id LIKE $1`, [`%-${tag}`])).toEqual([]);

    // No trace of the person in any column of any table, in the queue, or in what the service logged.
    expect(await scanTables(db, markers)).toEqual([]);
    if (backend === 'redis') expect(await scanRedis(TEST_REDIS_URL, t.env.QUEUE_PREFIX, markers)).toEqual([]);
    expect(scanOutput(t.output(), markers)).toEqual([]);

    // Subject access after: nothing held, and erased.
    const after = await alice(`/admin/subjects?email=${encodeURIComponent(EMAIL)}`);
    expect(after.body).toMatchObject({
      erased: true,
      records: { inbox: { events: [] }, interviews: { interviews: [] }, feedback: { feedback: [] } },
    });

    // Erasing again changes nothing and says so.
    const again = await alice('/admin/erasures', { method: 'POST', body: { email: EMAIL } });
    expect(again.body.counts).toEqual({ inbox_events: 0, dead_letters: 0, interviews: 0, transcripts: 0, feedback: 0, notifications: 0 });

    // The audit trail, newest first, each step with its actor; a person is named by an HMAC only.
    const audit = await alice('/admin/audit?limit=200');
    expect(audit.status).toBe(200);
    const steps = (audit.body.items as Array<{ actor: string; action: string; target: string | null }>)
      .filter((e) => e.action !== 'retention')
      .map((e) => `${e.actor} ${e.action}`)
      .reverse();
    expect(steps).toEqual([
      'alice event.read',
      'bob event.replay',
      'alice subject_access',
      'alice erasure',
      'alice subject_access',
      'alice erasure',
    ]);
    expect(JSON.stringify(audit.body)).not.toMatch(new RegExp(EMAIL_MARKER.replace(/[.+]/g, '\\$&'), 'i'));
  });

  if (backend === 'redis') {
    it('stores nothing of an event whose subject is erased while its transcript downloads', async () => {
      const name = 'racing';
      expect((await deliver(t.baseUrl, interview(name, 'held', `racer-${tag}@example.com`))).body.status).toBe('accepted');
      await waitFor(async () => held !== undefined);
      const erased = await admin(t, ALICE)('/admin/erasures', { method: 'POST', body: { session_id: session(name) } });
      expect(erased.body.counts).toMatchObject({ inbox_events: 1, interviews: 0 });
      // The transcript arrives after the erasure: the handler stores the interview, then finds its row gone.
      json(held!, 200, { lines: [{ speaker: 'candidate', text: TRANSCRIPT_MARKER }] });
      await queueIdle(t);
      expect(await db.query(`SELECT 1 FROM interviews WHERE session_id = $1`, [session(name)])).toEqual([]);
      expect(await db.query(`SELECT 1 FROM notifications WHERE session_id = $1`, [session(name)])).toEqual([]);
      expect(slack.posts().filter((p) => JSON.stringify(p.json).includes(session(name)))).toEqual([]);
      expect(await scanTables(db, [TRANSCRIPT_MARKER])).toEqual([]);
      expect(t.output()).toMatch(/was erased while it ran; erased what it wrote/);
    });

    it('answers bad erasure and access requests 400 naming the problem, 401 without a token', async () => {
      const alice = admin(t, ALICE);
      const cases: Array<[unknown, RegExp]> = [
        [{}, /email or session_id is required/],
        [{ email: 'a@example.com', session_id: 's' }, /not both/],
        [{ email: '' }, /email: must not be empty/],
        [{ email: 'not-an-email' }, /email: must be an email address/],
        [{ session_id: '   ' }, /session_id: must not be empty/],
        [{ email: 'a@example.com', reason: 'asked' }, /reason/],
      ];
      for (const [body, message] of cases) {
        const res = await alice('/admin/erasures', { method: 'POST', body });
        expect(res.status).toBe(400);
        expect(res.body.message).toMatch(message);
      }
      expect((await alice('/admin/subjects')).status).toBe(400);
      expect((await alice('/admin/subjects?email=x@example.com&session_id=s')).status).toBe(400);
      expect((await alice('/admin/subjects?emial=x@example.com')).body.message).toMatch(/emial/);
      expect((await alice('/admin/erasures/not-a-uuid')).status).toBe(400);
      expect((await alice('/admin/erasures/00000000-0000-4000-8000-000000000000')).status).toBe(404);
      // An unknown subject: erased (from now on), with zero counts.
      const unknown = await alice('/admin/erasures', { method: 'POST', body: { email: `nobody-${run}@example.com` } });
      expect(unknown).toMatchObject({ status: 200, body: { status: 'completed', counts: { inbox_events: 0, interviews: 0 } } });
      for (const path of ['/admin/erasures', '/admin/subjects?session_id=s', '/admin/audit']) {
        expect((await fetch(`${t.baseUrl}${path}`, { method: path === '/admin/erasures' ? 'POST' : 'GET' })).status).toBe(401);
      }
    });
  }
});

describe('retention, two worker replicas on one database and queue', () => {
  let db: TestDatabase;
  const services: RunningService[] = [];

  setups.retention = async () => {
    db = await createTestDatabase();
    const ds = new DataSource({ type: 'postgres', url: db.url, migrations, migrationsTransactionMode: 'each' });
    await ds.initialize();
    await ds.runMigrations();
    await ds.destroy();
    const days = (n: number) => `now() - interval '${n} days'`;
    const interview = (name: string, age: number) =>
      db.query(
        `INSERT INTO interviews (session_id, participant_email, transcript, created_at, updated_at)
         VALUES ($1, 'p@example.com', '{"lines": []}', ${days(age)}, ${days(age)})`,
        [name],
      );
    await interview('iv-40a', 40);
    await interview('iv-40b', 40);
    await interview('iv-10', 10);
    await interview('iv-100', 100);
    for (const [name, age] of [
      ['fb-70a', 70],
      ['fb-70b', 70],
      ['fb-10', 10],
    ] as const) {
      await db.query(
        `INSERT INTO feedback (session_id, payload, created_at, updated_at) VALUES ($1, '{"rating": 1}', ${days(age)}, ${days(age)})`,
        [name],
      );
    }
    for (const [name, age] of [
      ['n-70', 70],
      ['n-10', 10],
    ] as const) {
      await db.query(
        `INSERT INTO notifications (kind, session_id, status, created_at, updated_at) VALUES ('slack', $1, 'sent', ${days(age)}, ${days(age)})`,
        [name],
      );
    }
    for (const [name, status, age] of [
      ['in-8a', 'processed', 8],
      ['in-8b', 'processed', 8],
      ['in-8f', 'failed', 8],
      ['in-8r', 'received', 8],
      ['in-1', 'processed', 1],
    ] as const) {
      await db.query(
        `INSERT INTO webhook_events (idempotency_key, event, session_id, payload, signature_scheme, status, received_at, updated_at)
         VALUES ($1, 'session.feedback_submitted', $2, $3, 'signature', $4, ${days(age)}, ${days(age)})`,
        [
          `session.feedback_submitted:${name}`,
          name,
          { event: 'session.feedback_submitted', session_id: name, feedback: { comment: 'hi' } },
          status,
        ],
      );
    }
    const prefix = queuePrefix('retention');
    const env = {
      DATABASE_URL: db.url,
      QUEUE_PREFIX: prefix,
      TRANSCRIPT_RETENTION_DAYS: '30',
      INTERVIEW_RETENTION_DAYS: '90',
      FEEDBACK_RETENTION_DAYS: '60',
      NOTIFICATION_RETENTION_DAYS: '60',
      INBOX_PAYLOAD_RETENTION_DAYS: '7',
      // The row left in 'received' stays where the sweeper cannot reach it during the test.
      SWEEP_STALE_AFTER_MS: String(30 * 86_400_000),
    };
    services.push(...(await Promise.all([startService(env, BOOT), startService(env, BOOT)])));
  };
  teardowns.retention = async () => {
    await Promise.all(services.map((s) => s.stop()));
    await db?.drop();
  };

  it('expires each kind past its setting once, leaves the rest, and keeps the inbox keys', async () => {
    const passes = () =>
      db.query<{ counts: Record<string, number> }>(`SELECT counts FROM audit_log WHERE action = 'retention' AND actor = 'system'`);
    await waitFor(async () => (await passes()).length >= 1, 30_000);
    await waitFor(
      async () => (await db.query(`SELECT 1 FROM webhook_events WHERE payload_expired_at IS NULL AND session_id = 'in-8a'`)).length === 0,
    );
    const total: Record<string, number> = {};
    for (const { counts } of await passes()) for (const [k, n] of Object.entries(counts)) total[k] = (total[k] ?? 0) + n;
    expect(total).toEqual({ transcripts: 3, interviews: 1, feedback: 2, notifications: 1, inbox_payloads: 3 });

    expect(await db.query(`SELECT session_id, transcript IS NOT NULL AS has FROM interviews ORDER BY session_id`)).toEqual([
      { session_id: 'iv-10', has: true },
      { session_id: 'iv-40a', has: false },
      { session_id: 'iv-40b', has: false },
    ]);
    expect(await db.query(`SELECT session_id FROM feedback ORDER BY session_id`)).toEqual([{ session_id: 'fb-10' }]);
    expect(await db.query(`SELECT session_id FROM notifications ORDER BY session_id`)).toEqual([{ session_id: 'n-10' }]);
    expect(
      await db.query(
        `SELECT session_id, status, payload, payload_expired_at IS NOT NULL AS expired FROM webhook_events ORDER BY session_id`,
      ),
    ).toEqual([
      { session_id: 'in-1', status: 'processed', payload: expect.objectContaining({ feedback: { comment: 'hi' } }), expired: false },
      { session_id: 'in-8a', status: 'processed', payload: { event: 'session.feedback_submitted', session_id: 'in-8a' }, expired: true },
      { session_id: 'in-8b', status: 'processed', payload: { event: 'session.feedback_submitted', session_id: 'in-8b' }, expired: true },
      { session_id: 'in-8f', status: 'failed', payload: { event: 'session.feedback_submitted', session_id: 'in-8f' }, expired: true },
      { session_id: 'in-8r', status: 'received', payload: expect.objectContaining({ feedback: { comment: 'hi' } }), expired: false },
    ]);
    // The key stays: a redelivery of an expired event is still a duplicate.
    const again = await deliver(services[0].baseUrl, {
      event: 'session.feedback_submitted',
      session_id: 'in-8a',
      feedback: { comment: 'hi' },
    });
    expect(again.body.status).toBe('duplicate');
    // The metrics say how much, and that it is not behind.
    const metrics = await (await fetch(`${services[0].baseUrl}/metrics`)).text();
    expect(metrics).toMatch(/privacy_retention_expired_total\{kind="transcripts"\} \d/);
  });
});

describe('retention settings', () => {
  it('stop the boot with one line when negative or not an integer', async () => {
    for (const value of ['-1', '1.5', 'ten']) {
      await expect(
        startService(
          { DATABASE_URL: 'postgres://127.0.0.1:1/none', FEEDBACK_RETENTION_DAYS: value },
          { timeoutMs: 20_000, waitForMigrations: false },
        ),
      ).rejects.toThrow(/Refusing to start: Invalid configuration: FEEDBACK_RETENTION_DAYS: /);
    }
  });
});
