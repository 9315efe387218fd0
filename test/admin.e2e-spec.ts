import { json, Peer, startPeer } from './helpers/peers.js';
import { createTestDatabase, deliver, RunningService, startService, TestDatabase, waitFor } from './helpers/service.js';

const TOKEN = 'admin-e2e-token';

describe('admin API (dead-letter desk)', () => {
  let db: TestDatabase;
  let t: RunningService;
  let host: Peer;
  let transcriptStatus = 404;

  beforeAll(async () => {
    db = await createTestDatabase();
    host = await startPeer((_req, res) => json(res, transcriptStatus, transcriptStatus === 200 ? { lines: [] } : { error: 'nope' }));
    t = await startService({ DATABASE_URL: db.url, ADMIN_TOKEN: TOKEN, TRANSCRIPT_ALLOWED_HOSTS: host.host });
  });

  afterAll(async () => {
    await t?.stop();
    await host?.close();
    await db?.drop();
  });

  const call = (path: string, opts: { method?: string; token?: string | null } = {}) =>
    fetch(`${t.baseUrl}${path}`, {
      method: opts.method ?? 'GET',
      headers: opts.token === null ? {} : { authorization: `Bearer ${opts.token ?? TOKEN}` },
    });
  const statusOf = async (id: string) =>
    (await db.query<{ status: string }>('SELECT status FROM webhook_events WHERE id = $1', [id]))[0]?.status;
  const settle = (id: string, status: string) => waitFor(async () => (await statusOf(id)) === status, 20_000);

  it('answers 401 without a bearer token or with a wrong one', async () => {
    const missing = await call('/admin/events', { token: null });
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect((await call('/admin/events', { token: 'wrong' })).status).toBe(401);
    expect((await call('/admin/events', { token: `${TOKEN}x` })).status).toBe(401);
    expect((await fetch(`${t.baseUrl}/admin/events`, { headers: { authorization: `Basic ${TOKEN}` } })).status).toBe(401);
    expect((await call('/admin/events/00000000-0000-4000-8000-000000000000/replay', { method: 'POST', token: 'wrong' })).status).toBe(401);
    expect((await call('/admin/events')).status).toBe(200);
  });

  it('lists events newest first with an opaque keyset cursor and filters', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await deliver(t.baseUrl, { event: 'session.feedback_submitted', session_id: `list-${i}`, feedback: { rating: i } });
      ids.push(res.body.id);
    }
    for (const id of ids) await settle(id, 'processed');

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await call(`/admin/events?event=session.feedback_submitted&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      const page = (await res.json()) as { items: Array<{ id: string; session_id: string; status: string }>; next_cursor: string | null };
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.filter((e) => e.session_id.startsWith('list-')).map((e) => e.id));
      cursor = page.next_cursor;
      pages++;
    } while (cursor && pages < 10);
    expect(seen).toEqual([...ids].reverse());

    const bySession = (await (await call('/admin/events?session_id=list-3')).json()) as { items: Array<{ id: string; status: string }> };
    expect(bySession.items).toEqual([expect.objectContaining({ id: ids[3], status: 'processed' })]);
    const processed = (await (await call('/admin/events?status=processed&limit=200')).json()) as { items: unknown[] };
    expect(processed.items.length).toBeGreaterThanOrEqual(5);

    expect((await call('/admin/events?status=bogus')).status).toBe(400);
    expect((await call('/admin/events?limit=0')).status).toBe(400);
    expect((await call('/admin/events?cursor=not-a-cursor')).status).toBe(400);
  });

  it('shows one event, 404 when absent, 400 when the id is not a uuid', async () => {
    const res = await deliver(t.baseUrl, { event: 'session.feedback_submitted', session_id: 'show-1', feedback: { rating: 5 } });
    const one = await call(`/admin/events/${res.body.id}`);
    expect(one.status).toBe(200);
    expect(await one.json()).toMatchObject({
      id: res.body.id,
      session_id: 'show-1',
      status: expect.any(String),
      signature_scheme: 'signature',
      payload: { session_id: 'show-1', feedback: { rating: 5 } },
    });
    expect((await call('/admin/events/00000000-0000-4000-8000-000000000000')).status).toBe(404);
    expect((await call('/admin/events/not-a-uuid')).status).toBe(400);
    expect((await call('/admin/events/not-a-uuid/replay', { method: 'POST' })).status).toBe(400);
    expect((await call('/admin/events/00000000-0000-4000-8000-000000000000/replay', { method: 'POST' })).status).toBe(404);
  });

  it('replays a dead letter after the cause is fixed, and refuses to replay a processed event (409)', async () => {
    transcriptStatus = 404;
    const res = await deliver(t.baseUrl, {
      event: 'interview.completed',
      session_id: 'replay-1',
      transcript_url: `${host.url}/t/replay-1.json`,
    });
    await settle(res.body.id, 'failed');
    const failed = (await (await call(`/admin/events?status=failed&session_id=replay-1`)).json()) as {
      items: Array<{ id: string; attempts: number; last_error: string }>;
    };
    expect(failed.items).toEqual([expect.objectContaining({ id: res.body.id, attempts: 1, last_error: expect.stringMatching(/404/) })]);

    transcriptStatus = 200;
    const replay = await call(`/admin/events/${res.body.id}/replay`, { method: 'POST' });
    expect(replay.status).toBe(202);
    const body = (await replay.json()) as { job_id: string };
    expect(body).toMatchObject({ id: res.body.id, status: 'received', queued: true });
    expect(body.job_id).not.toBe(res.body.id); // a fresh job: the failed one still sits in the queue
    await settle(res.body.id, 'processed');
    expect(await db.query(`SELECT transcript FROM interviews WHERE session_id = 'replay-1'`)).toEqual([{ transcript: { lines: [] } }]);

    const again = await call(`/admin/events/${res.body.id}/replay`, { method: 'POST' });
    expect(again.status).toBe(409);
    expect(((await again.json()) as { message: string }).message).toMatch(/processed/);
  });

  it('replays an ignored event through processing again', async () => {
    const res = await deliver(t.baseUrl, { event: 'interview.scheduled', session_id: 'ignored-1' });
    await settle(res.body.id, 'ignored');
    expect((await call(`/admin/events/${res.body.id}/replay`, { method: 'POST' })).status).toBe(202);
    await settle(res.body.id, 'ignored');
    const [row] = await db.query(`SELECT attempts FROM webhook_events WHERE id = $1`, [res.body.id]);
    expect(row.attempts).toBe(1); // reset by the replay, then one run
  });

  it('bulk-replays failed events, bounded by limit, and returns the count', async () => {
    transcriptStatus = 404;
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push(
        (
          await deliver(t.baseUrl, {
            event: 'interview.completed',
            session_id: `bulk-${i}`,
            transcript_url: `${host.url}/t/bulk-${i}.json`,
          })
        ).body.id,
      );
    }
    for (const id of ids) await settle(id, 'failed');
    transcriptStatus = 200;

    expect((await call('/admin/events/replay?status=processed', { method: 'POST' })).status).toBe(400);
    const first = await call('/admin/events/replay?status=failed&limit=2', { method: 'POST' });
    expect(first.status).toBe(202);
    expect(await first.json()).toEqual({ count: 2, queued: true });
    const rest = await call('/admin/events/replay?status=failed', { method: 'POST' });
    expect(await rest.json()).toEqual({ count: 1, queued: true });
    for (const id of ids) await settle(id, 'processed');
    expect(await (await call('/admin/events/replay?status=failed', { method: 'POST' })).json()).toEqual({ count: 0, queued: true });
  });
});

describe('admin API without ADMIN_TOKEN', () => {
  let db: TestDatabase;
  let t: RunningService;

  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startService({ DATABASE_URL: db.url });
  });

  afterAll(async () => {
    await t?.stop();
    await db?.drop();
  });

  it('does not have the admin routes (404), whatever the token', async () => {
    expect((await fetch(`${t.baseUrl}/admin/events`)).status).toBe(404);
    expect((await fetch(`${t.baseUrl}/admin/events`, { headers: { authorization: 'Bearer anything' } })).status).toBe(404);
    expect((await fetch(`${t.baseUrl}/admin/events/replay?status=failed`, { method: 'POST' })).status).toBe(404);
  });
});
