import { closedPort, createTestDatabase, deliver, RunningService, startService, TestDatabase, waitFor } from './helpers/service.js';

// The core ingestion and processing cases again, with BullMQ's PostgreSQL backend on the same
// database and no Redis at all (REDIS_URL points at a closed port, so any use of it would fail).
// It also parses every statement (DATABASE_PREPARED_STATEMENTS=false), as behind an old PgBouncer.
describe('QUEUE_BACKEND=postgres (PostgreSQL only, no Redis)', () => {
  let db: TestDatabase;
  let t: RunningService;

  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startService({
      DATABASE_URL: db.url,
      QUEUE_BACKEND: 'postgres',
      REDIS_URL: `redis://127.0.0.1:${await closedPort()}`,
      DATABASE_PREPARED_STATEMENTS: 'false',
    });
  });

  afterAll(async () => {
    await t?.stop();
    await db?.drop();
  });

  const row = async (key: string) =>
    (await db.query<{ id: string; status: string }>('SELECT id, status FROM webhook_events WHERE idempotency_key = $1', [key]))[0];

  it('accepts a delivery and processes feedback into its row through the PostgreSQL queue', async () => {
    const res = await deliver(t.baseUrl, {
      event: 'session.feedback_submitted',
      session_id: 'pg-accept',
      feedback: { rating: 4, comment: 'ok' },
    });
    expect(res).toEqual({ status: 200, body: { status: 'accepted', id: expect.any(String) } });
    await waitFor(async () => (await row('session.feedback_submitted:pg-accept'))?.status === 'processed');
    expect(await db.query('SELECT rating, comment FROM feedback WHERE session_id = $1', ['pg-accept'])).toEqual([
      { rating: 4, comment: 'ok' },
    ]);
    // The job went through BullMQ's tables in schema bullmq of the same database: it completed there,
    // and a completed job is deleted when it completes (queue.constants.ts), leaving its events. The
    // job completes after its event's outcome is on the row, in a transaction of its own.
    const completed = async () =>
      Number(
        (
          await db.query<{ n: string }>(`SELECT count(*) AS n FROM bullmq.event WHERE event = 'completed' AND data->>'jobId' = $1`, [
            res.body.id,
          ])
        )[0].n,
      );
    expect(await waitFor(completed)).toBe(1);
    expect(await db.query(`SELECT id FROM bullmq.job WHERE id = $1`, [res.body.id])).toEqual([]);
  });

  it('stores an interview', async () => {
    const res = await deliver(t.baseUrl, {
      event: 'interview.completed',
      session_id: 'pg-interview',
      invitee_email: 'ada@example.com',
      total_minutes: 17,
      timestamp: '2026-11-27T10:00:00Z',
    });
    expect(res.body.status).toBe('accepted');
    await waitFor(async () => (await row('interview.completed:pg-interview'))?.status === 'processed');
    const [interview] = await db.query('SELECT participant_email, duration_minutes FROM interviews WHERE session_id = $1', [
      'pg-interview',
    ]);
    expect(interview).toEqual({ participant_email: 'ada@example.com', duration_minutes: 17 });
  });

  it('answers a duplicate with the first id and keeps one row', async () => {
    const body = { event: 'interview.completed', session_id: 'pg-dup' };
    const first = await deliver(t.baseUrl, body);
    const second = await deliver(t.baseUrl, body);
    expect(first.body.status).toBe('accepted');
    expect(second).toEqual({ status: 200, body: { status: 'duplicate', id: first.body.id } });
    expect(await db.query(`SELECT id FROM webhook_events WHERE session_id = 'pg-dup'`)).toHaveLength(1);
  });

  it('records one row per key under 200 concurrent deliveries over 40 keys, and processes them all', async () => {
    const bodies = Array.from({ length: 200 }, (_, i) => ({
      event: 'session.feedback_submitted',
      session_id: `pgc-${i % 40}`,
      feedback: { rating: i % 5 },
    }));
    const results = await Promise.all(bodies.map((b) => deliver(t.baseUrl, b)));
    expect(results.map((r) => r.status)).toEqual(bodies.map(() => 200));
    expect(results.filter((r) => r.body.status === 'accepted')).toHaveLength(40);
    const ids = new Map<string, Set<string>>();
    results.forEach((r, i) => ids.set(bodies[i].session_id, (ids.get(bodies[i].session_id) ?? new Set()).add(r.body.id)));
    expect([...ids.values()].every((s) => s.size === 1)).toBe(true);
    await waitFor(async () => {
      const [{ done }] = await db.query<{ done: string }>(
        `SELECT count(*) AS done FROM webhook_events WHERE session_id LIKE 'pgc-%' AND status = 'processed'`,
      );
      return Number(done) === 40;
    }, 30_000);
    const [{ count }] = await db.query<{ count: string }>(`SELECT count(*) FROM feedback WHERE session_id LIKE 'pgc-%'`);
    expect(Number(count)).toBe(40);
  });

  it('has no dev routes outside the embedded mode, and no queue dashboard or events console without ADMIN_TOKEN', async () => {
    expect((await fetch(`${t.baseUrl}/dev/sessions/pg-accept`)).status).toBe(404);
    expect((await fetch(`${t.baseUrl}/dev/transcripts/pg-accept`)).status).toBe(404);
    expect((await fetch(`${t.baseUrl}/admin/queues`, { headers: { accept: 'text/html' }, redirect: 'manual' })).status).toBe(404);
    expect((await fetch(`${t.baseUrl}/admin/console/events`, { headers: { accept: 'text/html' }, redirect: 'manual' })).status).toBe(404);
    expect((await fetch(`${t.baseUrl}/admin/login`)).status).toBe(404);
  });

  it('records an unknown event type and marks it ignored', async () => {
    expect((await deliver(t.baseUrl, { event: 'interview.scheduled', session_id: 'pg-unknown' })).body.status).toBe('accepted');
    await waitFor(async () => (await row('interview.scheduled:pg-unknown'))?.status === 'ignored');
  });
});
