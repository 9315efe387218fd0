import { gzipSync } from 'node:zlib';
import { DataSource } from 'typeorm';
import { dataSourceOptions, migrations } from '../src/database/data-source.js';
import { json, Peer, startPeer } from './helpers/peers.js';
import { createTestDatabase, deliver, queueIdle, RunningService, startService, TestDatabase, waitFor } from './helpers/service.js';

// Poison input: every acknowledged event ends processed, or failed where an operator sees it, at
// the first attempt when no retry can help, and one bad event never harms the events beside it.

interface Row {
  id: string;
  status: string;
  attempts: number;
  recoveries: number;
  last_error: string | null;
}

describe('poison input: what can never be stored fails once, visibly, and alone', () => {
  let db: TestDatabase;
  let t: RunningService;
  let host: Peer;

  beforeAll(async () => {
    db = await createTestDatabase();
    host = await startPeer();
    t = await startService(
      {
        DATABASE_URL: db.url,
        TRANSCRIPT_ALLOWED_HOSTS: host.host,
        JOB_BACKOFF_MS: '100',
        SWEEP_INTERVAL_MS: '300',
        SWEEP_STALE_AFTER_MS: '3000',
        SWEEP_STUCK_AFTER_MS: '1500',
      },
      { timeoutMs: 50_000 },
    );
  });

  afterAll(async () => {
    await t?.stop();
    await host?.close();
    await db?.drop();
  });

  const row = async (sessionId: string, event = 'interview.completed') =>
    (
      await db.query<Row>('SELECT id, status, attempts, recoveries, last_error FROM webhook_events WHERE event = $1 AND session_id = $2', [
        event,
        sessionId,
      ])
    )[0];
  const settled = (sessionId: string, event = 'interview.completed', timeoutMs = 20_000) =>
    waitFor(async () => {
      const r = await row(sessionId, event);
      return r && ['processed', 'failed', 'ignored'].includes(r.status) ? r : undefined;
    }, timeoutMs);
  const interview = (sessionId: string, path: string) => ({
    event: 'interview.completed',
    session_id: sessionId,
    transcript_url: `${host.url}${path}`,
  });

  describe('transcripts that can never be stored: failed at the first attempt, one download, a readable reason', () => {
    const cases: Array<[string, (res: import('node:http').ServerResponse) => void, RegExp]> = [
      [
        'gzip despite accept-encoding: identity',
        (res) => res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' }).end(gzipSync('{"a":1}')),
        /content-encoding gzip/,
      ],
      [
        'binary bytes (gzip, undeclared)',
        (res) => res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(gzipSync('{"turns":[]}')),
        /not a JSON document/,
      ],
      [
        'raw NUL bytes',
        (res) => res.writeHead(200, { 'content-type': 'application/json' }).end(Buffer.from('{"text":"a\u0000b"}')),
        /not a JSON document/,
      ],
      [
        'an escaped NUL',
        (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"text":"a\\u0000b"}'),
        /cannot be stored.*NUL/,
      ],
      [
        'a lone surrogate',
        (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"text":"\\ud800"}'),
        /cannot be stored.*surrogate/,
      ],
      [
        'a number beyond double range',
        (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"n":1e400}'),
        /cannot be stored.*range/,
      ],
      [
        'nesting 5,000 deep',
        (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('['.repeat(5000) + ']'.repeat(5000)),
        /cannot be stored.*nested/,
      ],
    ];

    it.each(cases)('%s', async (name, answer, reason) => {
      const path = `/t/${encodeURIComponent(name)}.json`;
      host.route(path, (_req, res) => answer(res));
      const sessionId = `p-${name.replace(/\W+/g, '-')}`;
      expect((await deliver(t.baseUrl, interview(sessionId, path))).status).toBe(200);
      const r = await settled(sessionId);
      expect(r).toMatchObject({ status: 'failed', attempts: 1 });
      expect(r.last_error).toMatch(reason);
      expect(r.last_error).not.toContain('\u0000');
      expect(r.last_error).not.toContain('\ufffd');
      expect(host.hits(path)).toHaveLength(1);
      expect(await db.query(`SELECT count(*)::int AS n FROM interviews WHERE session_id = $1`, [sessionId])).toEqual([{ n: 0 }]);
    });
  });

  it('a row whose failure cannot be recorded ends failed after a bounded number of recoveries, and stops', async () => {
    // Stands in for any failure PostgreSQL will not record: marking this row failed raises, unless
    // it is the sweeper's final verdict.
    await db.query(`
      CREATE FUNCTION refuse_failed() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
        IF NEW.status = 'failed' AND NEW.session_id = 'p-unrecordable' AND coalesce(NEW.last_error, '') NOT LIKE 'gave up%' THEN
          RAISE EXCEPTION 'simulated: the failure cannot be written';
        END IF;
        RETURN NEW;
      END $$`);
    await db.query(`CREATE TRIGGER refuse_failed BEFORE UPDATE ON webhook_events FOR EACH ROW EXECUTE FUNCTION refuse_failed()`);
    host.route('/t/gone.json', (_req, res) => json(res, 404, { error: 'gone' }));

    expect((await deliver(t.baseUrl, interview('p-unrecordable', '/t/gone.json'))).status).toBe(200);
    const r = await settled('p-unrecordable', 'interview.completed', 50_000);
    expect(r.status).toBe('failed');
    expect(r.recoveries).toBe(4);
    expect(r.last_error).toMatch(/^gave up: put back through processing 3 times without an outcome; last error: /);
    // Final: no job runs it again, and the sweeper leaves a failed row alone.
    const downloads = host.hits('/t/gone.json').length;
    await queueIdle(t);
    expect(host.hits('/t/gone.json')).toHaveLength(downloads);
    expect(await row('p-unrecordable')).toMatchObject({ status: 'failed', recoveries: 4 });
  }, 90_000);

  it('a batch with one event PostgreSQL refuses still writes the others, each exactly once', async () => {
    // A constraint the payload validation does not know: the one feedback row it refuses fails the
    // whole batched upsert, which is then split.
    await db.query(`ALTER TABLE feedback ADD CONSTRAINT no_poison CHECK (comment IS DISTINCT FROM 'poison')`);
    await db.query(`CREATE TABLE feedback_writes (session_id text NOT NULL)`);
    await db.query(`
      CREATE FUNCTION count_feedback_write() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
        INSERT INTO feedback_writes VALUES (NEW.session_id); RETURN NEW;
      END $$`);
    await db.query(
      `CREATE TRIGGER count_feedback_write AFTER INSERT OR UPDATE ON feedback FOR EACH ROW EXECUTE FUNCTION count_feedback_write()`,
    );

    const sessions = Array.from({ length: 24 }, (_, i) => `p-batch-${i}`);
    const answers = await Promise.all(
      sessions.map((sessionId, i) =>
        deliver(t.baseUrl, {
          event: 'session.feedback_submitted',
          session_id: sessionId,
          feedback: { rating: 4, comment: i === 7 ? 'poison' : `fine ${i}` },
        }),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(sessions.map(() => 200));

    const rows = await Promise.all(sessions.map((s) => settled(s, 'session.feedback_submitted')));
    expect(rows[7]).toMatchObject({ status: 'failed', attempts: 1 });
    expect(rows[7].last_error).toMatch(/no_poison/);
    for (const [i, r] of rows.entries()) if (i !== 7) expect([i, r.status]).toEqual([i, 'processed']);

    const writes = await db.query<{ session_id: string; n: number }>(
      `SELECT session_id, count(*)::int AS n FROM feedback_writes GROUP BY session_id`,
    );
    expect(Object.fromEntries(writes.map((w) => [w.session_id, w.n]))).toEqual(
      Object.fromEntries(sessions.filter((_, i) => i !== 7).map((s) => [s, 1])),
    );
  });

  it('refuses at the door, naming the field, a timestamp PostgreSQL cannot store', async () => {
    for (const timestamp of ['0000-01-01T00:00:00Z', '2026-11-27T10:00:00+16:00', '2026-11-27T10:00:00-23:59']) {
      const res = await deliver(t.baseUrl, { event: 'session.feedback_submitted', session_id: 'p-ts', feedback: { rating: 1 }, timestamp });
      expect([timestamp, res.status]).toEqual([timestamp, 400]);
      expect(res.body.message).toMatch(/^timestamp: /);
    }
    expect(await row('p-ts', 'session.feedback_submitted')).toBeUndefined();
  });

  it('never lets two deliveries share an idempotency key, colons on either side', async () => {
    const first = await deliver(t.baseUrl, { event: 'session.feedback_submitted:abc', session_id: 'def' });
    const second = await deliver(t.baseUrl, { event: 'session.feedback_submitted', session_id: 'abc:def', feedback: { rating: 2 } });
    expect(first.body.status).toBe('accepted');
    expect(second.body.status).toBe('accepted');
    expect(second.body.id).not.toBe(first.body.id);
    expect(await settled('abc:def', 'session.feedback_submitted')).toMatchObject({ status: 'processed' });
    expect(await db.query(`SELECT rating FROM feedback WHERE session_id = 'abc:def'`)).toEqual([{ rating: 2 }]);
    const keys = await db.query(`SELECT idempotency_key FROM webhook_events WHERE id = ANY($1::uuid[]) ORDER BY idempotency_key`, [
      [first.body.id, second.body.id],
    ]);
    expect(keys).toEqual([
      { idempotency_key: 'session.feedback_submitted%3Aabc:def' },
      { idempotency_key: 'session.feedback_submitted:abc:def' },
    ]);
  });
});

describe('the idempotency key migration', () => {
  it('moves the keys of existing rows whose event name holds a colon, and no others', async () => {
    const db = await createTestDatabase();
    const before = new DataSource({ ...dataSourceOptions(db.url), migrations: migrations.slice(0, 2) });
    const after = new DataSource(dataSourceOptions(db.url));
    try {
      await before.initialize();
      await before.runMigrations();
      await before.query(`
        INSERT INTO webhook_events (idempotency_key, event, session_id, payload, signature_scheme) VALUES
          ('a:b:c', 'a:b', 'c', '{}', 'signature'),
          ('interview.completed:x:y', 'interview.completed', 'x:y', '{}', 'signature')`);
      await before.destroy();
      await after.initialize();
      await after.runMigrations();
      const rows = await after.query(`SELECT idempotency_key, recoveries FROM webhook_events ORDER BY idempotency_key`);
      expect(rows).toEqual([
        { idempotency_key: 'a%3Ab:c', recoveries: 0 },
        { idempotency_key: 'interview.completed:x:y', recoveries: 0 },
      ]);
    } finally {
      if (before.isInitialized) await before.destroy();
      if (after.isInitialized) await after.destroy();
      await db.drop();
    }
  });
});
