import { randomBytes } from 'node:crypto';
import { json, Peer, startPeer, startSlack } from './helpers/peers.js';
import { Queue } from 'bullmq';
import {
  createTestDatabase,
  deliver,
  holdInbox,
  queueIdle,
  queuePrefix,
  RunningService,
  startService,
  TEST_REDIS_URL,
  TestDatabase,
  waitFor,
} from './helpers/service.js';

const ADMIN_TOKEN = 'processing-admin-token';

interface InboxRow {
  id: string;
  status: string;
  attempts: number;
  last_error: string | null;
  processed_at: Date | null;
}

function interview(sessionId: string, extra: Record<string, unknown> = {}) {
  return {
    event: 'interview.completed',
    session_id: sessionId,
    invitee_email: 'ada@example.com',
    total_minutes: 12,
    timestamp: '2026-11-27T10:00:00Z',
    ...extra,
  };
}

const TRANSCRIPT = {
  lines: [
    { speaker: 'ai', text: 'Tell me about yourself.' },
    { speaker: 'candidate', text: 'Gladly.' },
  ],
};

// Each describe below runs its own service on its own database. Starting and stopping services is
// most of this file's time on a busy machine, so all first starts (and all stops) happen at once, here.
// (Describe bodies run before any hook, so every `setups` entry is in place by then.)
const setups: Record<string, () => Promise<void>> = {};
// Three boots at once on a loaded 2-core machine can take longer than startService's default 30 s.
const BOOT = { timeoutMs: 50_000 };
const teardowns: Record<string, () => Promise<void>> = {};
beforeAll(async () => {
  await Promise.all(Object.values(setups).map((start) => start()));
}, 90_000);
afterAll(async () => {
  await Promise.all(Object.values(teardowns).map((stop) => stop()));
});

describe('event processing (interviews, feedback, Slack, retries, dead letters)', () => {
  let db: TestDatabase;
  let t: RunningService;
  let host: Peer;
  let other: Peer;
  let slack: Awaited<ReturnType<typeof startSlack>>;

  setups.main = async () => {
    db = await createTestDatabase();
    [host, other, slack] = await Promise.all([startPeer(), startPeer(), startSlack()]);
    t = await startService(
      {
        DATABASE_URL: db.url,
        TRANSCRIPT_ALLOWED_HOSTS: host.host,
        SLACK_WEBHOOK_URL: `${slack.url}/hooks/slack`,
        ADMIN_TOKEN,
        SWEEP_INTERVAL_MS: '500',
        INBOX_RETENTION_DAYS: '30',
      },
      BOOT,
    );
  };

  teardowns.main = async () => {
    await t?.stop();
    await Promise.all([host?.close(), other?.close(), slack?.close()]);
    await db?.drop();
  };

  const inbox = async (event: string, sessionId: string) =>
    (
      await db.query<InboxRow>('SELECT id, status, attempts, last_error, processed_at FROM webhook_events WHERE idempotency_key = $1', [
        `${event}:${sessionId}`,
      ])
    )[0];
  const settled = (event: string, sessionId: string, statuses = ['processed', 'failed', 'ignored']) =>
    waitFor(async () => {
      const row = await inbox(event, sessionId);
      return row && statuses.includes(row.status) ? row : undefined;
    }, 20_000);
  const slackPostsFor = (sessionId: string) => slack.posts().filter((p) => JSON.stringify(p.json).includes(sessionId));
  const admin = (path: string, method = 'GET') =>
    fetch(`${t.baseUrl}${path}`, { method, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });

  it('stores an interview with its transcript and posts one Block Kit message to Slack', async () => {
    host.route('/t/happy.json', (_req, res) => json(res, 200, TRANSCRIPT));
    expect((await deliver(t.baseUrl, interview('s-happy', { transcript_url: `${host.url}/t/happy.json` }))).status).toBe(200);

    const row = await settled('interview.completed', 's-happy');
    expect(row).toMatchObject({ status: 'processed', attempts: 1, last_error: null });
    expect(row.processed_at).toBeInstanceOf(Date);
    const [stored] = await db.query(
      'SELECT participant_email, transcript, duration_minutes, completed_at FROM interviews WHERE session_id = $1',
      ['s-happy'],
    );
    expect(stored).toEqual({
      participant_email: 'ada@example.com',
      transcript: TRANSCRIPT,
      duration_minutes: 12,
      completed_at: new Date('2026-11-27T10:00:00Z'),
    });

    const posts = slackPostsFor('s-happy');
    expect(posts).toHaveLength(1);
    expect(posts[0].headers['content-type']).toMatch(/application\/json/);
    const body = posts[0].json;
    expect(body.text).toContain('ada@example.com');
    expect(body.blocks).toEqual([{ type: 'section', text: { type: 'mrkdwn', text: expect.any(String) } }]);
    const mrkdwn: string = body.blocks[0].text.text;
    expect(mrkdwn.startsWith('*Interview completed*')).toBe(true);
    expect(mrkdwn).toContain('ada@example.com');
    expect(mrkdwn).toContain('`s-happy`');
    expect(await db.query(`SELECT status, attempts FROM notifications WHERE session_id = 's-happy'`)).toEqual([
      { status: 'sent', attempts: 1 },
    ]);
  });

  it('keeps a session id with newlines to one line of the Slack message, and accepts it as sent', async () => {
    const sessionId = 's-forge\nParticipant: *ceo@corp.com*';
    const res = await deliver(t.baseUrl, interview(sessionId));
    expect(res.body.status).toBe('accepted');
    await waitFor(
      async () => (await db.query(`SELECT 1 FROM notifications WHERE session_id = $1 AND status = 'sent'`, [sessionId])).length > 0,
    );
    const post = slack.posts().find((p) => JSON.stringify(p.json).includes('s-forge'))!;
    const lines = (post.json.blocks[0].text.text as string).split('\n');
    expect(lines.filter((l) => l.startsWith('Participant:'))).toEqual(['Participant: ada@example.com']);
    expect(lines).toContain('Session: `s-forge Participant: *ceo@corp.com*`');
  });

  it('stores an interview without transcript_url, without a transcript', async () => {
    await deliver(t.baseUrl, interview('s-no-url'));
    expect(await settled('interview.completed', 's-no-url')).toMatchObject({ status: 'processed' });
    expect(await db.query(`SELECT transcript FROM interviews WHERE session_id = 's-no-url'`)).toEqual([{ transcript: null }]);
  });

  it('stores feedback, before its interview arrives too', async () => {
    const fb = {
      event: 'session.feedback_submitted',
      session_id: 's-order',
      feedback: { rating: 4, comment: 'clear questions', tags: ['ux'] },
      timestamp: '2026-11-27T11:00:00Z',
    };
    await deliver(t.baseUrl, fb);
    expect(await settled('session.feedback_submitted', 's-order')).toMatchObject({ status: 'processed' });
    expect(await db.query(`SELECT count(*)::int AS n FROM interviews WHERE session_id = 's-order'`)).toEqual([{ n: 0 }]);

    await deliver(t.baseUrl, interview('s-order'));
    expect(await settled('interview.completed', 's-order')).toMatchObject({ status: 'processed' });
    const [feedback] = await db.query(`SELECT rating, comment, payload, submitted_at FROM feedback WHERE session_id = 's-order'`);
    expect(feedback).toEqual({
      rating: 4,
      comment: 'clear questions',
      payload: fb.feedback,
      submitted_at: new Date('2026-11-27T11:00:00Z'),
    });
    expect(await db.query(`SELECT count(*)::int AS n FROM interviews WHERE session_id = 's-order'`)).toEqual([{ n: 1 }]);
  });

  it('posts to Slack exactly once across a duplicate delivery and a replay', async () => {
    host.route('/t/once.json', (_req, res) => json(res, 200, TRANSCRIPT));
    const body = interview('s-once', { transcript_url: `${host.url}/t/once.json` });
    const first = await deliver(t.baseUrl, body);
    expect((await deliver(t.baseUrl, body)).body).toEqual({ status: 'duplicate', id: first.body.id });
    await settled('interview.completed', 's-once');
    expect(slackPostsFor('s-once')).toHaveLength(1);

    // A processed event cannot be replayed; one that ended failed after Slack was told (e.g. the
    // outcome could not be written) can, and the replay must not post again.
    expect((await admin(`/admin/events/${first.body.id}/replay`, 'POST')).status).toBe(409);
    await db.query(`UPDATE webhook_events SET status = 'failed', last_error = 'simulated' WHERE id = $1`, [first.body.id]);
    const replay = await admin(`/admin/events/${first.body.id}/replay`, 'POST');
    expect(replay.status).toBe(202);
    expect(await replay.json()).toMatchObject({ id: first.body.id, status: 'received', queued: true });
    await waitFor(async () => (await inbox('interview.completed', 's-once')).status === 'processed');
    await queueIdle(t);
    expect(slackPostsFor('s-once')).toHaveLength(1);
    expect(await db.query(`SELECT count(*)::int AS n FROM interviews WHERE session_id = 's-once'`)).toEqual([{ n: 1 }]);
    expect(await db.query(`SELECT status, attempts FROM notifications WHERE session_id = 's-once'`)).toEqual([
      { status: 'sent', attempts: 1 },
    ]);
  });

  it('runs an event once when its duplicate arrives while it is being processed', async () => {
    // The transcript host holds the first attempt while the duplicate arrives: the row is
    // 'processing', and a job added for it then would run the event a second time beside the first.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    host.route('/t/held.json', (_req, res) => void held.then(() => json(res, 200, TRANSCRIPT)));
    const body = interview('s-held', { transcript_url: `${host.url}/t/held.json` });
    const first = await deliver(t.baseUrl, body);
    await waitFor(
      async () => host.hits('/t/held.json').length === 1 && (await inbox('interview.completed', 's-held')).status === 'processing',
    );
    expect(await deliver(t.baseUrl, body)).toEqual({ status: 200, body: { status: 'duplicate', id: first.body.id } });
    release();
    expect(await settled('interview.completed', 's-held')).toMatchObject({ status: 'processed', attempts: 1 });
    await queueIdle(t);
    expect(host.hits('/t/held.json')).toHaveLength(1);
    expect(slackPostsFor('s-held')).toHaveLength(1);
    expect(await inbox('interview.completed', 's-held')).toMatchObject({ status: 'processed', attempts: 1 });
  });

  it('retries a transcript host that fails twice (500), then stores the transcript', async () => {
    let calls = 0;
    host.route('/t/flaky.json', (_req, res) => (++calls <= 2 ? json(res, 500, { error: 'boom' }) : json(res, 200, TRANSCRIPT)));
    await deliver(t.baseUrl, interview('s-flaky', { transcript_url: `${host.url}/t/flaky.json` }));
    const row = await settled('interview.completed', 's-flaky');
    expect(row).toMatchObject({ status: 'processed', attempts: 3, last_error: null });
    expect(calls).toBe(3);
    expect(await db.query(`SELECT transcript FROM interviews WHERE session_id = 's-flaky'`)).toEqual([{ transcript: TRANSCRIPT }]);
    expect(slackPostsFor('s-flaky')).toHaveLength(1);
  });

  it('dead-letters a 404 at once: one attempt, failed, last_error set, nothing stored or posted', async () => {
    host.route('/t/missing.json', (_req, res) => json(res, 404, { error: 'not found' }));
    await deliver(t.baseUrl, interview('s-404', { transcript_url: `${host.url}/t/missing.json` }));
    const row = await settled('interview.completed', 's-404');
    expect(row.status).toBe('failed');
    expect(row.attempts).toBe(1);
    expect(row.last_error).toMatch(/404/);
    await queueIdle(t); // no retry may follow
    expect(host.hits('/t/missing.json')).toHaveLength(1);
    expect(await db.query(`SELECT count(*)::int AS n FROM interviews WHERE session_id = 's-404'`)).toEqual([{ n: 0 }]);
    expect(slackPostsFor('s-404')).toHaveLength(0);
  });

  it('refuses a redirect to a host outside TRANSCRIPT_ALLOWED_HOSTS without contacting it', async () => {
    host.route('/t/redirect.json', (_req, res) => res.writeHead(302, { location: `${other.url}/t/stolen.json` }).end());
    await deliver(t.baseUrl, interview('s-redirect', { transcript_url: `${host.url}/t/redirect.json` }));
    const row = await settled('interview.completed', 's-redirect');
    expect(row).toMatchObject({ status: 'failed', attempts: 1 });
    expect(row.last_error).toMatch(/not in TRANSCRIPT_ALLOWED_HOSTS/);
    expect(other.requests).toHaveLength(0);
  });

  it("honours Slack's 429 Retry-After and still posts once", async () => {
    let calls = 0;
    const times: number[] = [];
    slack.route('/hooks/slack', (req, res) => {
      if (!JSON.stringify(req.json).includes('s-429')) return res.writeHead(200).end('ok');
      times.push(Date.now());
      if (++calls === 1) return res.writeHead(429, { 'retry-after': '1' }).end('rate_limited');
      res.writeHead(200).end('ok');
    });
    try {
      await deliver(t.baseUrl, interview('s-429'));
      const row = await settled('interview.completed', 's-429');
      expect(row.status).toBe('processed');
      expect(times).toHaveLength(2);
      expect(times[1] - times[0]).toBeGreaterThanOrEqual(950);
      expect(await db.query(`SELECT status FROM notifications WHERE session_id = 's-429'`)).toEqual([{ status: 'sent' }]);
    } finally {
      slack.route('/hooks/slack', (_req, res) => res.writeHead(200).end('ok'));
    }
  });

  it('keeps the interview when Slack keeps failing, dead-letters the event, and a replay posts once', async () => {
    slack.route('/hooks/slack', (req, res) =>
      JSON.stringify(req.json).includes('s-slack-down') ? res.writeHead(503).end('down') : res.writeHead(200).end('ok'),
    );
    await deliver(t.baseUrl, interview('s-slack-down'));
    const row = await settled('interview.completed', 's-slack-down', ['failed']);
    expect(row.attempts).toBe(5);
    expect(row.last_error).toMatch(/slack: answered 503/);
    expect(await db.query(`SELECT participant_email FROM interviews WHERE session_id = 's-slack-down'`)).toEqual([
      { participant_email: 'ada@example.com' },
    ]);
    expect(await db.query(`SELECT status, attempts FROM notifications WHERE session_id = 's-slack-down'`)).toEqual([
      { status: 'failed', attempts: 5 },
    ]);

    slack.route('/hooks/slack', (_req, res) => res.writeHead(200).end('ok'));
    const before = slack.posts().length;
    expect((await admin(`/admin/events/${row.id}/replay`, 'POST')).status).toBe(202);
    expect(await settled('interview.completed', 's-slack-down', ['processed'])).toMatchObject({ attempts: 1 });
    expect(slack.posts().length - before).toBe(1);
    expect(await db.query(`SELECT status FROM notifications WHERE session_id = 's-slack-down'`)).toEqual([{ status: 'sent' }]);
  });

  it('sweeps a row left in received with no job, and a row stuck in processing', async () => {
    // What a crash between the inbox commit and the enqueue leaves behind, and what a job that
    // died while PostgreSQL was down leaves behind.
    const insert = (sessionId: string, status: string) =>
      db.query<{ id: string }>(
        `INSERT INTO webhook_events (idempotency_key, event, session_id, payload, signature_scheme, status, received_at, updated_at)
         VALUES ($1, 'session.feedback_submitted', $2, $3, 'signature', $4, now() - interval '2 hours', now() - interval '2 hours') RETURNING id`,
        [
          `session.feedback_submitted:${sessionId}`,
          sessionId,
          { event: 'session.feedback_submitted', session_id: sessionId, feedback: { rating: 2 } },
          status,
        ],
      );
    await insert('s-orphan', 'received');
    await insert('s-stuck', 'processing');
    await settled('session.feedback_submitted', 's-orphan', ['processed']);
    await settled('session.feedback_submitted', 's-stuck', ['processed']);
    expect(
      await db.query(`SELECT session_id, rating FROM feedback WHERE session_id IN ('s-orphan', 's-stuck') ORDER BY session_id`),
    ).toEqual([
      { session_id: 's-orphan', rating: 2 },
      { session_id: 's-stuck', rating: 2 },
    ]);
  });

  it('sweeps a received row whose job already finished under a fresh job id', async () => {
    // The row's job (id = row id) failed and still sits in the queue, so re-adding that id would be
    // a no-op; the sweeper must notice and use a new one.
    let ok = false;
    host.route('/t/finished.json', (_req, res) => (ok ? json(res, 200, TRANSCRIPT) : json(res, 404, {})));
    const res = await deliver(t.baseUrl, interview('s-finished', { transcript_url: `${host.url}/t/finished.json` }));
    expect((await settled('interview.completed', 's-finished')).status).toBe('failed');
    ok = true;
    await db.query(
      `UPDATE webhook_events SET status = 'received', received_at = now() - interval '2 hours', updated_at = now() - interval '2 hours' WHERE id = $1`,
      [res.body.id],
    );
    expect(await settled('interview.completed', 's-finished', ['processed'])).toMatchObject({ status: 'processed' });
    expect(await db.query(`SELECT transcript FROM interviews WHERE session_id = 's-finished'`)).toEqual([{ transcript: TRANSCRIPT }]);
  });

  it('deletes finished rows older than INBOX_RETENTION_DAYS, and keeps failed and younger ones', async () => {
    const insert = (sessionId: string, status: string, age: string) =>
      db.query(
        `INSERT INTO webhook_events (idempotency_key, event, session_id, payload, signature_scheme, status, received_at, updated_at, processed_at)
         VALUES ($1, 'session.feedback_submitted', $2, $3, 'signature', $4, now() - $5::interval, now() - $5::interval, now() - $5::interval)`,
        [`session.feedback_submitted:${sessionId}`, sessionId, { event: 'session.feedback_submitted', session_id: sessionId }, status, age],
      );
    await insert('s-old-processed', 'processed', '31 days');
    await insert('s-old-ignored', 'ignored', '40 days');
    await insert('s-old-failed', 'failed', '40 days');
    await insert('s-young-processed', 'processed', '29 days');
    const left = () =>
      db.query<{ session_id: string }>(
        `SELECT session_id FROM webhook_events WHERE session_id LIKE 's-old-%' OR session_id LIKE 's-young-%' ORDER BY session_id`,
      );
    await waitFor(async () => (await left()).length === 2);
    expect(await left()).toEqual([{ session_id: 's-old-failed' }, { session_id: 's-young-processed' }]);
    const metrics = await (await fetch(`${t.baseUrl}/metrics`)).text();
    expect(Number(/^webhook_events_pruned_total (\d+)/m.exec(metrics)?.[1])).toBe(2);
  });

  it('exports processing metrics', async () => {
    const text = await (await fetch(`${t.baseUrl}/metrics`)).text();
    const value = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
    expect(value(/^webhook_jobs_total\{event="interview.completed",outcome="processed"\} (\d+)/m)).toBeGreaterThanOrEqual(5);
    expect(value(/^webhook_jobs_total\{event="interview.completed",outcome="failed"\} (\d+)/m)).toBeGreaterThanOrEqual(3);
    expect(value(/^webhook_jobs_total\{event="interview.completed",outcome="retried"\} (\d+)/m)).toBeGreaterThanOrEqual(2);
    expect(value(/^webhook_processing_duration_seconds_count\{event="session.feedback_submitted"\} (\d+)/m)).toBeGreaterThanOrEqual(1);
    expect(value(/^transcript_download_duration_seconds_count\{outcome="ok"\} (\d+)/m)).toBeGreaterThanOrEqual(3);
    expect(value(/^slack_notifications_total\{outcome="sent"\} (\d+)/m)).toBeGreaterThanOrEqual(4);
    expect(value(/^slack_notifications_total\{outcome="rate_limited"\} (\d+)/m)).toBe(1);
    expect(value(/^slack_request_duration_seconds_count\{outcome="sent"\} (\d+)/m)).toBeGreaterThanOrEqual(4);
    expect(value(/^slack_request_duration_seconds_count\{outcome="failed"\} (\d+)/m)).toBe(5);
    expect(value(/^webhook_events_requeued_total\{reason="stuck_processing"\} (\d+)/m)).toBe(1);
    expect(value(/^webhook_events_requeued_total\{reason="stale_received"\} (\d+)/m)).toBe(2);
  });

  // Kept after the metrics test, whose exact counts they would change.
  it('groups a burst of deliveries into batch jobs and processes each event once', async () => {
    const sessions = Array.from({ length: 40 }, (_, i) => `s-burst-${i}`);
    const inbox = await holdInbox(db.url);
    const sent = Promise.all(
      sessions.map((sessionId) =>
        deliver(t.baseUrl, { event: 'session.feedback_submitted', session_id: sessionId, feedback: { rating: 4 } }),
      ),
    );
    await inbox.release();
    const results = await sent;
    expect(results.map((r) => r.status)).toEqual(sessions.map(() => 200));
    const rows = await waitFor(async () => {
      const r = await db.query<{ status: string; attempts: number; batch_job_id: string | null }>(
        `SELECT status, attempts, batch_job_id FROM webhook_events WHERE session_id LIKE 's-burst-%'`,
      );
      return r.length === sessions.length && r.every((x) => x.status === 'processed') ? r : undefined;
    }, 20_000);
    expect(rows.every((r) => r.attempts === 1)).toBe(true);
    // Deliveries that arrived while an INSERT was running were recorded, and queued, together.
    const batched = rows.filter((r) => r.batch_job_id !== null);
    expect(batched.length).toBeGreaterThan(1);
    expect(new Set(batched.map((r) => r.batch_job_id)).size).toBeLessThan(batched.length);
    expect(await db.query(`SELECT count(*)::int AS n FROM feedback WHERE session_id LIKE 's-burst-%'`)).toEqual([{ n: sessions.length }]);
  });

  it('keeps running when PostgreSQL drops its idle connections (a restart, a failover)', async () => {
    // The burst above left idle connections in every pool, the async-commit one included.
    const [{ n }] = await db.query<{ n: number }>(
      `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
      [db.name],
    );
    expect(n).toBeGreaterThan(0);
    // As the platform would, deliver until accepted: the pools replace the connections they lost.
    await waitFor(
      async () =>
        (await deliver(t.baseUrl, { event: 'session.feedback_submitted', session_id: 's-after-drop', feedback: { rating: 5 } })).status ===
        200,
    );
    expect(await settled('session.feedback_submitted', 's-after-drop')).toMatchObject({ status: 'processed' });
    expect(t.process.exitCode).toBeNull();
  });

  it('hands events whose first attempt fails in a batch to jobs of their own: retried, deferred or dead-lettered', async () => {
    let flaky = 0;
    host.route('/t/batch-flaky.json', (_req, res) => (++flaky <= 2 ? json(res, 500, { error: 'boom' }) : json(res, 200, TRANSCRIPT)));
    host.route('/t/batch-missing.json', (_req, res) => json(res, 404, { error: 'not found' }));
    host.route('/t/batch-ok.json', (_req, res) => json(res, 200, TRANSCRIPT));
    let limited = 0;
    slack.route('/hooks/slack', (req, res) =>
      JSON.stringify(req.json).includes('s-batch-429') && ++limited === 1
        ? res.writeHead(429, { 'retry-after': '1' }).end('rate_limited')
        : res.writeHead(200).end('ok'),
    );
    const bodies = [
      interview('s-batch-ok', { transcript_url: `${host.url}/t/batch-ok.json` }),
      interview('s-batch-429'),
      interview('s-batch-flaky', { transcript_url: `${host.url}/t/batch-flaky.json` }),
      interview('s-batch-404', { transcript_url: `${host.url}/t/batch-missing.json` }),
      { event: 'session.feedback_submitted', session_id: 's-batch-fb', feedback: { rating: 5 } },
      { event: 'candidate.waved', session_id: 's-batch-unknown' },
    ];
    // What ingest does for a burst, done by hand so that these rows share one batch job for sure.
    const batchJobId = `batch-${randomBytes(8).toString('hex')}`;
    const ids: Record<string, string> = {};
    for (const body of bodies) {
      const [row] = await db.query<{ id: string }>(
        `INSERT INTO webhook_events (idempotency_key, event, session_id, payload, signature_scheme, batch_job_id)
         VALUES ($1, $2, $3, $4, 'signature', $5) RETURNING id`,
        [`${body.event}:${body.session_id}`, body.event, body.session_id, body, batchJobId],
      );
      ids[body.session_id] = row.id;
    }
    const queue = new Queue('webhooks', { connection: { url: TEST_REDIS_URL }, prefix: t.env.QUEUE_PREFIX });
    try {
      await queue.add(
        'process-batch',
        { events: bodies.map((b) => ({ eventId: ids[b.session_id], event: b.event })) },
        { jobId: batchJobId },
      );
      expect(await settled('interview.completed', 's-batch-ok')).toMatchObject({ status: 'processed', attempts: 1 });
      expect(await settled('session.feedback_submitted', 's-batch-fb')).toMatchObject({ status: 'processed', attempts: 1 });
      expect(await settled('candidate.waved', 's-batch-unknown')).toMatchObject({ status: 'ignored', attempts: 1 });
      // Deferred by Slack's Retry-After in a job of its own, without spending an attempt of its budget.
      expect(await settled('interview.completed', 's-batch-429')).toMatchObject({ status: 'processed', attempts: 2, last_error: null });
      expect(slackPostsFor('s-batch-429')).toHaveLength(2); // the 429, then the post
      // Retried in a job of its own: the batch's attempt and two more, as if it had had its own from the start.
      expect(await settled('interview.completed', 's-batch-flaky')).toMatchObject({ status: 'processed', attempts: 3, last_error: null });
      expect(flaky).toBe(3);
      const dead = await settled('interview.completed', 's-batch-404');
      expect(dead).toMatchObject({ status: 'failed', attempts: 1, last_error: expect.stringMatching(/404/) });
      expect(host.hits('/t/batch-missing.json')).toHaveLength(1);
      // Every dead letter is a failed job on the queue too, under the row's id.
      const deadJob = await waitFor(async () =>
        (await queue.getJobState(ids['s-batch-404'])) === 'failed' ? queue.getJob(ids['s-batch-404']) : undefined,
      );
      expect(deadJob?.failedReason).toMatch(/404/);
      const batchJob = await queue.getJob(batchJobId);
      expect(batchJob?.returnvalue).toEqual({ processed: 2, ignored: 1, skipped: 0, handedOff: 3 });
      expect(slackPostsFor('s-batch-ok')).toHaveLength(1);
      expect(slackPostsFor('s-batch-flaky')).toHaveLength(1);
      expect(slackPostsFor('s-batch-404')).toHaveLength(0);
    } finally {
      slack.route('/hooks/slack', (_req, res) => res.writeHead(200).end('ok'));
      await queue.close();
    }
  });

  it('replays a dead letter whose failed job is retried from the queue dashboard, batch stand-ins included', async () => {
    // Both events failed for good above (404s); the transcript host has them now.
    host.route('/t/missing.json', (_req, res) => json(res, 200, TRANSCRIPT));
    host.route('/t/batch-missing.json', (_req, res) => json(res, 200, TRANSCRIPT));
    const queue = new Queue('webhooks', { connection: { url: TEST_REDIS_URL }, prefix: t.env.QUEUE_PREFIX });
    // The dashboard's own Retry route (what its button calls), as the logged-in operator would.
    const retryFromDashboard = (jobId: string) =>
      fetch(`${t.baseUrl}/admin/queues/api/queues/webhooks/${encodeURIComponent(jobId)}/retry`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
    try {
      for (const sessionId of ['s-404', 's-batch-404']) {
        const row = await inbox('interview.completed', sessionId);
        expect(row.status).toBe('failed');
        expect(await queue.getJobState(row.id)).toBe('failed');
        expect((await retryFromDashboard(row.id)).status).toBe(204);
        // A replay: the row reopened under a fresh job, attempts anew; the retried job is gone.
        const replayed = await settled('interview.completed', sessionId, ['processed']);
        expect(replayed).toMatchObject({ attempts: 1, last_error: null });
        const [{ job_id: jobId }] = await db.query<{ job_id: string }>('SELECT job_id FROM webhook_events WHERE id = $1', [row.id]);
        expect(jobId).toMatch(new RegExp(`^${row.id}-r\\d+$`));
        expect(await queue.getJobState(row.id)).toBe('unknown');
        expect(await db.query(`SELECT transcript FROM interviews WHERE session_id = $1`, [sessionId])).toEqual([
          { transcript: TRANSCRIPT },
        ]);
        expect(slackPostsFor(sessionId)).toHaveLength(1);
        // Retrying the replay's completed job changes nothing: the event is done.
        await waitFor(async () => (await queue.getJobState(jobId)) === 'completed');
        expect((await retryFromDashboard(jobId)).status).toBe(204);
        await queueIdle(t);
        expect(await inbox('interview.completed', sessionId)).toMatchObject({ status: 'processed', attempts: 1 });
        expect(slackPostsFor(sessionId)).toHaveLength(1);
      }
    } finally {
      await queue.close();
    }
  });
});

describe('retries whose backoff outlasts SWEEP_STUCK_AFTER_MS', () => {
  // A platform outage can call for minutes of backoff: the sweeper must leave a row alone while its
  // retry waits, however long, and count only real losses (the job gone) as recoveries.
  let db: TestDatabase;
  let t: RunningService;
  let host: Peer;

  setups.longBackoff = async () => {
    db = await createTestDatabase();
    host = await startPeer((_req, res) => json(res, 500, { error: 'down' }));
    t = await startService(
      {
        DATABASE_URL: db.url,
        TRANSCRIPT_ALLOWED_HOSTS: host.host,
        ADMIN_TOKEN,
        JOB_ATTEMPTS: '3',
        JOB_BACKOFF_MS: '4000',
        SWEEP_STUCK_AFTER_MS: '500',
        SWEEP_STALE_AFTER_MS: '500',
        SWEEP_INTERVAL_MS: '200',
      },
      BOOT,
    );
  };

  teardowns.longBackoff = async () => {
    await t?.stop();
    await host?.close();
    await db?.drop();
  };

  it('runs each event JOB_ATTEMPTS times, in one job at a time, and dead-letters it without a recovery', async () => {
    // A lone delivery (a job of its own from the start) and two at once (a batch job, then jobs of their own).
    const lone = interview('s-long-lone', { transcript_url: `${host.url}/t/lone.json` });
    const pair = ['s-long-a', 's-long-b'].map((id) => interview(id, { transcript_url: `${host.url}/t/${id}.json` }));
    const answers = [await deliver(t.baseUrl, lone), ...(await Promise.all(pair.map((b) => deliver(t.baseUrl, b))))];
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    const ids = answers.map((a) => a.body.id as string);
    const rows = async () =>
      db.query<{ id: string; status: string; attempts: number; recoveries: number; job_id: string | null }>(
        'SELECT id, status, attempts, recoveries, job_id FROM webhook_events WHERE id = ANY($1::uuid[]) ORDER BY id',
        [ids],
      );
    // Attempts at 0 s, 4 s and 12 s; the sweeper looks every 200 ms at rows idle for 500 ms.
    await waitFor(async () => (await rows()).every((r) => r.status === 'failed'), 30_000, 250);
    await queueIdle(t); // what a stray job would still do, it does now
    expect(await rows()).toEqual(ids.sort().map((id) => ({ id, status: 'failed', attempts: 3, recoveries: 0, job_id: null })));
    for (const sessionId of ['lone', 's-long-a', 's-long-b']) expect(host.hits(`/t/${sessionId}.json`)).toHaveLength(3);
    // One job per event, failed, under the row's id; nothing else in the queue.
    const queue = new Queue('webhooks', { connection: { url: TEST_REDIS_URL }, prefix: t.env.QUEUE_PREFIX });
    try {
      const jobs = (await queue.getJobs(['failed', 'completed', 'waiting', 'delayed', 'active'])).filter((j) => j.name === 'process-event');
      expect(jobs.map((j) => j.id).sort()).toEqual([...ids].sort());
      expect(await queue.getJobCounts('failed')).toEqual({ failed: 3 });
    } finally {
      await queue.close();
    }
  });
});

describe('transcript host guard without TRANSCRIPT_ALLOWED_HOSTS', () => {
  let db: TestDatabase;
  let t: RunningService;
  let host: Peer;

  setups.guard = async () => {
    db = await createTestDatabase();
    host = await startPeer((_req, res) => json(res, 200, TRANSCRIPT));
    t = await startService({ DATABASE_URL: db.url }, BOOT);
  };

  teardowns.guard = async () => {
    await t?.stop();
    await host?.close();
    await db?.drop();
  };

  it.each([
    ['loopback over http', (h: Peer) => `${h.url}/t.json`],
    ['loopback over https', (h: Peer) => `https://${h.host}/t.json`],
    ['a name resolving to loopback', (h: Peer) => `https://localhost:${new URL(h.url).port}/t.json`],
    ['cloud metadata', () => 'https://169.254.169.254/latest/meta-data/'],
  ])('refuses %s at once and never contacts it', async (name, url) => {
    const sessionId = `s-refused-${name.replace(/\W+/g, '-')}`;
    await deliver(t.baseUrl, interview(sessionId, { transcript_url: url(host) }));
    const row = await waitFor(async () => {
      const [r] = await db.query<InboxRow>(`SELECT status, attempts, last_error FROM webhook_events WHERE session_id = $1`, [sessionId]);
      return r?.status === 'failed' ? r : undefined;
    });
    expect(row.attempts).toBe(1);
    expect(row.last_error).toMatch(/refused transcript URL/);
    expect(host.requests).toHaveLength(0);
  });
});

describe('a worker killed mid-job', () => {
  let db: TestDatabase;
  let first: RunningService | undefined;
  let second: RunningService | undefined;
  let host: Peer;
  let slack: Awaited<ReturnType<typeof startSlack>>;

  let hang = true;
  let env: Record<string, string>;

  setups.kill = async () => {
    db = await createTestDatabase();
    [host, slack] = await Promise.all([startPeer(), startSlack()]);
    host.route('/t/slow.json', (_req, res) => {
      if (hang) return; // never answers while the first worker is alive
      json(res, 200, TRANSCRIPT);
    });
    env = {
      DATABASE_URL: db.url,
      QUEUE_PREFIX: queuePrefix('kill'),
      TRANSCRIPT_ALLOWED_HOSTS: host.host,
      TRANSCRIPT_TIMEOUT_MS: '60000',
      SLACK_WEBHOOK_URL: `${slack.url}/hooks/slack`,
      WORKER_LOCK_DURATION_MS: '2000',
      WORKER_STALLED_INTERVAL_MS: '500',
    };
    first = await startService(env, BOOT);
  };

  teardowns.kill = async () => {
    await first?.stop('SIGKILL');
    await second?.stop();
    await Promise.all([host?.close(), slack?.close()]);
    await db?.drop();
  };

  it('is processed exactly once after a restart (stalled-job recovery)', async () => {
    await deliver(first!.baseUrl, interview('s-killed', { transcript_url: `${host.url}/t/slow.json` }));
    await waitFor(async () => host.hits('/t/slow.json').length === 1);
    await first!.stop('SIGKILL');
    const [mid] = await db.query(`SELECT status FROM webhook_events WHERE session_id = 's-killed'`);
    expect(mid.status).toBe('processing');

    hang = false;
    second = await startService(env, BOOT);
    const row = await waitFor(async () => {
      const [r] = await db.query<InboxRow>(`SELECT status, attempts FROM webhook_events WHERE session_id = 's-killed'`);
      return r.status === 'processed' ? r : undefined;
    }, 20_000);
    expect(row.attempts).toBe(2);
    await queueIdle(second);
    expect(await db.query(`SELECT transcript FROM interviews WHERE session_id = 's-killed'`)).toEqual([{ transcript: TRANSCRIPT }]);
    expect(slack.posts()).toHaveLength(1);
    expect(await db.query(`SELECT status, attempts FROM notifications WHERE session_id = 's-killed'`)).toEqual([
      { status: 'sent', attempts: 1 },
    ]);
  }, 90_000);
});
