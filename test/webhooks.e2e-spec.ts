import {
  closedPort,
  createTestDatabase,
  deliver,
  RunningService,
  startService,
  TestDatabase,
  TEST_SECRET,
  waitFor,
} from './helpers/service.js';
import pg from 'pg';
import { SqlStatements } from '../src/database/sql-statements.js';
import { idempotencyKey } from '../src/events/delivery.js';
import { InboxCandidate, InboxIngestRepository, InboxRow, RecordedDelivery } from '../src/inbox/ingest.repository.js';
import { signDelivery } from '../src/webhooks/webhook-signature.js';

describe('POST /webhooks/ai-interview (ingestion)', () => {
  let db: TestDatabase;
  let t: RunningService;

  beforeAll(async () => {
    db = await createTestDatabase();
    // A second secret proves rotation: deliveries signed with either are accepted.
    t = await startService({ DATABASE_URL: db.url, WEBHOOK_SECRET: `old-secret,${TEST_SECRET}`, WEBHOOK_MAX_BODY_BYTES: '4096' });
  });

  afterAll(async () => {
    await t?.stop();
    await db?.drop();
  });

  const rows = (key: string) =>
    db.query<{ id: string; status: string; signature_scheme: string; payload: any }>(
      'SELECT id, status, signature_scheme, payload FROM webhook_events WHERE idempotency_key = $1',
      [key],
    );

  it('accepts a signed delivery, records it once and processes it', async () => {
    const body = {
      event: 'session.feedback_submitted',
      session_id: 's-accept',
      feedback: { rating: 5, comment: 'great' },
      timestamp: '2026-11-27T10:00:00Z',
    };
    const res = await deliver(t.baseUrl, body);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'accepted', id: expect.any(String) });
    const [row] = await rows('session.feedback_submitted:s-accept');
    expect(row.id).toBe(res.body.id);
    expect(row.signature_scheme).toBe('signature');
    await waitFor(async () => (await rows('session.feedback_submitted:s-accept'))[0].status === 'processed');
    const [fb] = await db.query<{ rating: number; comment: string }>('SELECT rating, comment FROM feedback WHERE session_id = $1', [
      's-accept',
    ]);
    expect(fb).toEqual({ rating: 5, comment: 'great' });
  });

  it('records concurrent batches that share keys in opposite orders without a deadlock', async () => {
    // Two batches in flight, each holding keys the other is about to insert: in arrival order
    // PostgreSQL aborted one ("deadlock detected") and its deliveries were answered 503.
    const pool = new pg.Pool({ connectionString: db.url, max: 2 });
    const statements = { query: (_name: string, text: string, values: unknown[]) => pool.query(text, values) };
    const inbox = new InboxIngestRepository(statements as unknown as SqlStatements);
    const candidate = (round: number, i: number): InboxCandidate => {
      const event = 'interview.completed';
      const sessionId = `s-lock-order-${round}-${i}`;
      return {
        event: { event, sessionId, idempotencyKey: idempotencyKey(event, sessionId), payload: { event, session_id: sessionId } },
        scheme: 'signature',
      };
    };
    try {
      for (let round = 0; round < 20; round++) {
        const batch = Array.from({ length: 200 }, (_, i) => candidate(round, i));
        const rows = (written: RecordedDelivery[]) => written.map((r) => r as InboxRow);
        const [a, b] = (await Promise.all([inbox.recordBatch(batch), inbox.recordBatch([...batch].reverse())])).map(rows);
        // One row per key, whichever batch inserted it.
        expect(a.map((r) => r.id)).toEqual([...b].reverse().map((r) => r.id));
        expect(a.filter((r) => r.inserted).length + b.filter((r) => r.inserted).length).toBe(batch.length);
      }
    } finally {
      await pool.end();
    }
  });

  it('answers a duplicate with the first id and no second row', async () => {
    const body = { event: 'interview.completed', session_id: 's-dup', total_minutes: 12 };
    const first = await deliver(t.baseUrl, body);
    const second = await deliver(t.baseUrl, body);
    expect(first.body.status).toBe('accepted');
    expect(second).toEqual({ status: 200, body: { status: 'duplicate', id: first.body.id } });
    expect(await rows('interview.completed:s-dup')).toHaveLength(1);
  });

  it('verifies the exact raw bytes, whitespace included', async () => {
    const raw = '{\n  "event" : "interview.completed",   "session_id":"s-raw"\n}\n';
    expect((await deliver(t.baseUrl, undefined, { raw })).status).toBe(200);
    // Signed over re-serialised JSON instead of the bytes sent: refused.
    const res = await fetch(`${t.baseUrl}/webhooks/ai-interview`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...signDelivery(JSON.stringify(JSON.parse(raw)), TEST_SECRET) },
      body: raw.replace('s-raw', 's-raw2'),
    });
    expect(res.status).toBe(401);
  });

  it('stores escaped keys as sent, also after a delivery with a backslash key (the Node 24 JSON.parse bug)', async () => {
    // nodejs/node#63785: on Node 24, once {"first-of-its-kind":0,"\\":1} was parsed, JSON.parse read
    // the key after "first-of-its-kind" in the next object, "\u00e9", as "\\" (V8 follows the only map
    // transition from there). The keys are read in SQL: this process's JSON.parse has the bug too.
    const raw = (session: string, key: string) =>
      `{"event":"session.feedback_submitted","session_id":"${session}","feedback":{"first-of-its-kind":0,${key}:1}}`;
    expect((await deliver(t.baseUrl, undefined, { raw: raw('s-escaped-1', String.raw`"\\"`) })).status).toBe(200);
    expect((await deliver(t.baseUrl, undefined, { raw: raw('s-escaped-2', String.raw`"\u00e9"`) })).status).toBe(200);
    expect((await deliver(t.baseUrl, undefined, { raw: raw('s-escaped-3', String.raw`"\n"`) })).status).toBe(200);
    const keys = await db.query<{ session_id: string; keys: string[] }>(
      `SELECT session_id, array(SELECT jsonb_object_keys(payload->'feedback')) AS keys FROM webhook_events
       WHERE session_id LIKE 's-escaped-%' ORDER BY session_id`,
    );
    expect(keys).toEqual([
      { session_id: 's-escaped-1', keys: ['\\', 'first-of-its-kind'] },
      { session_id: 's-escaped-2', keys: ['\u00e9', 'first-of-its-kind'] },
      { session_id: 's-escaped-3', keys: ['\n', 'first-of-its-kind'] },
    ]);
  });

  it('stores every digit of a number as sent, in either body shape', async () => {
    // JavaScript reads 12345678901234567890123 as 12345678901234568000000; the inbox keeps the text.
    const big = '12345678901234567890123';
    const precise = '0.12345678901234567890123';
    const first = `{"event":"session.feedback_submitted","session_id":" s-digits-1 ","feedback":{"rating":4,"ref":${big},"score":${precise}}}`;
    const envelope = `{"type":"session.feedback_submitted","data":{"session_id":"s-digits-2","feedback":{"ref":${big}}}}`;
    expect((await deliver(t.baseUrl, undefined, { raw: first })).status).toBe(200);
    expect((await deliver(t.baseUrl, undefined, { raw: envelope, scheme: 'timestamped' })).status).toBe(200);
    const stored = await db.query<{ session_id: string; ref: string; score: string | null; event: string; payload_session: string }>(
      `SELECT session_id, payload->'feedback'->>'ref' AS ref, payload->'feedback'->>'score' AS score,
              payload->>'event' AS event, payload->>'session_id' AS payload_session
       FROM webhook_events WHERE session_id LIKE 's-digits-%' ORDER BY session_id`,
    );
    expect(stored).toEqual([
      { session_id: 's-digits-1', ref: big, score: precise, event: 'session.feedback_submitted', payload_session: 's-digits-1' },
      { session_id: 's-digits-2', ref: big, score: null, event: 'session.feedback_submitted', payload_session: 's-digits-2' },
    ]);
  });

  it('accepts the timestamped scheme with the { type, data } envelope and normalises it', async () => {
    const body = { type: 'session.feedback_submitted', data: { session_id: 's-ts', feedback: { rating: 3 } } };
    const res = await deliver(t.baseUrl, body, { scheme: 'timestamped' });
    expect(res).toEqual({ status: 200, body: { status: 'accepted', id: expect.any(String) } });
    const [row] = await rows('session.feedback_submitted:s-ts');
    expect(row.signature_scheme).toBe('timestamped');
    expect(row.payload).toMatchObject({ event: 'session.feedback_submitted', session_id: 's-ts', feedback: { rating: 3 } });
  });

  it('accepts a delivery signed with an older secret during rotation', async () => {
    const res = await deliver(t.baseUrl, { event: 'interview.completed', session_id: 's-rot' }, { secret: 'old-secret' });
    expect(res.status).toBe(200);
  });

  it.each([
    ['missing', {}],
    ['wrong secret', { 'x-webhook-signature': signDelivery('{}', 'nope')['x-webhook-signature'] }],
    ['short', { 'x-webhook-signature': 'abc123' }],
    ['long', { 'x-webhook-signature': 'a'.repeat(66) }],
    ['non-hex', { 'x-webhook-signature': 'z'.repeat(64) }],
    ['wrong prefix', { 'x-webhook-signature': `sha1=${'a'.repeat(64)}` }],
    ['empty', { 'x-webhook-signature': '' }],
  ])('refuses a %s signature with 401 and stores nothing', async (_name, headers) => {
    const raw = JSON.stringify({ event: 'interview.completed', session_id: `s-bad-${_name}` });
    const res = await fetch(`${t.baseUrl}/webhooks/ai-interview`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: raw,
    });
    expect(res.status).toBe(401);
    expect(await rows(`interview.completed:s-bad-${_name}`)).toHaveLength(0);
  });

  it('refuses a timestamped delivery outside the tolerance window', async () => {
    const old = Math.floor(Date.now() / 1000) - 301;
    const res = await deliver(
      t.baseUrl,
      { type: 'interview.completed', data: { session_id: 's-old' } },
      { scheme: 'timestamped', timestamp: old },
    );
    expect(res.status).toBe(401);
  });

  it('answers 400 naming the problem for malformed JSON and missing fields', async () => {
    const broken = await deliver(t.baseUrl, undefined, { raw: '{"event": "interview.completed", ' });
    expect(broken.status).toBe(400);
    expect(JSON.stringify(broken.body)).toMatch(/JSON/i);

    const noSession = await deliver(t.baseUrl, { event: 'interview.completed' });
    expect(noSession.status).toBe(400);
    expect(noSession.body.message).toMatch(/session_id/);

    const badEmail = await deliver(t.baseUrl, { event: 'interview.completed', session_id: 's-email', invitee_email: 'not-an-email' });
    expect(badEmail.status).toBe(400);
    expect(badEmail.body.message).toMatch(/invitee_email/);

    const nul = await deliver(t.baseUrl, { event: 'interview.completed', session_id: 's-\u0000' });
    expect(nul.status).toBe(400);
  });

  it('records an unknown event type instead of rejecting it', async () => {
    const res = await deliver(t.baseUrl, { event: 'interview.scheduled', session_id: 's-unknown' });
    expect(res.body.status).toBe('accepted');
    await waitFor(async () => (await rows('interview.scheduled:s-unknown'))[0].status === 'ignored');
  });

  it('answers 413 for a body over WEBHOOK_MAX_BODY_BYTES and 404 for other routes', async () => {
    const big = await deliver(t.baseUrl, { event: 'interview.completed', session_id: 's-big', pad: 'x'.repeat(5000) });
    expect(big.status).toBe(413);
    expect((await fetch(`${t.baseUrl}/webhooks/ai-interview`)).status).toBe(404);
    expect((await fetch(`${t.baseUrl}/webhooks/other`, { method: 'POST' })).status).toBe(404);
  });

  it('records exactly one row per key under 200 concurrent deliveries over 40 keys', async () => {
    const bodies = Array.from({ length: 200 }, (_, i) => ({
      event: 'session.feedback_submitted',
      session_id: `conc-${i % 40}`,
      feedback: { rating: i % 5 },
    }));
    const results = await Promise.all(bodies.map((b) => deliver(t.baseUrl, b)));
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(results.filter((r) => r.body.status === 'accepted')).toHaveLength(40);
    const [{ count }] = await db.query<{ count: string }>(`SELECT count(*) FROM webhook_events WHERE session_id LIKE 'conc-%'`);
    expect(Number(count)).toBe(40);
    // Every answer for a key names the same row.
    const idsByKey = new Map<string, Set<string>>();
    results.forEach((r, i) => idsByKey.set(bodies[i].session_id, (idsByKey.get(bodies[i].session_id) ?? new Set()).add(r.body.id)));
    expect([...idsByKey.values()].every((ids) => ids.size === 1)).toBe(true);
    // Forty distinct UUIDv7 ids (time-ordered: their first 48 bits are the milliseconds they were made at).
    const ids = [...idsByKey.values()].map((set) => [...set][0]);
    expect(new Set(ids).size).toBe(40);
    for (const id of ids) {
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(Math.abs(parseInt(id.replaceAll('-', '').slice(0, 12), 16) - Date.now())).toBeLessThan(60_000);
    }
  });
});

describe('POST /webhooks/ai-interview with Redis unreachable', () => {
  let db: TestDatabase;
  let t: RunningService;

  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startService({ DATABASE_URL: db.url, REDIS_URL: `redis://127.0.0.1:${await closedPort()}`, APP_ROLE: 'api' });
  });

  afterAll(async () => {
    await t?.stop();
    await db?.drop();
  });

  it('answers 503, never 2xx, and keeps the row for a later retry to enqueue', async () => {
    const res = await deliver(t.baseUrl, { event: 'interview.completed', session_id: 's-noredis' });
    expect(res.status).toBe(503);
    const again = await deliver(t.baseUrl, { event: 'interview.completed', session_id: 's-noredis' });
    expect(again.status).toBe(503);
    const stored = await db.query(`SELECT status FROM webhook_events WHERE session_id = 's-noredis'`);
    expect(stored).toEqual([{ status: 'received' }]);
  });
});
