import { DataSource } from 'typeorm';
import { encodeCursor } from '../src/admin/admin-cursor.js';
import { migrations } from '../src/database/data-source.js';
import { BrowseOptions, InboxConsoleRepository } from '../src/inbox/console.repository.js';
import { InboxFilter, InboxKey } from '../src/inbox/event-filter.js';
import { InboxRecoveryRepository } from '../src/inbox/recovery.repository.js';
import { createTestDatabase, RunningService, startService, TestDatabase } from './helpers/service.js';

/**
 * The events console's listing against a real inbox: every filter, both orders, any page size and a
 * scan limit that ends pages early must list each matching row once, in order, as plain SQL does.
 *
 * CONSOLE_LISTING_ROWS=1000000 (npm run bench:console) fills the inbox with that many rows instead
 * and prints the latency of each kind of page, from the repository and through HTTP: the figures in
 * docs/operations.md.
 */
const ROWS = Number(process.env.CONSOLE_LISTING_ROWS ?? 4000);
const MEASURE = ROWS >= 100_000;
const ADMIN_TOKEN = 'console-listing-token-0123456789';

/**
 * A month of deliveries, oldest first, `ROWS / 30` a day: two event types and 1 % of an unknown one,
 * 1.5 % dead letters, a few hundred in flight at the newest end, one in fifty retried, and every
 * received_at shared by three rows (the id breaks the tie). Payloads as the platform sends them,
 * plus a `tag` that 1 % of the rows share with each other (a sparse payload filter).
 */
const FILL = `
  INSERT INTO webhook_events (id, idempotency_key, event, session_id, payload, signature_scheme, status, attempts, last_error,
                              received_at, processed_at, updated_at)
  SELECT gen_random_uuid(), ev || ':' || sid, ev, sid,
    CASE WHEN ev = 'interview.completed'
      THEN jsonb_build_object('event', ev, 'session_id', sid, 'invitee_email', 'person' || g || '@example.com',
                              'transcript_url', 'https://files.example/t/' || sid || '.json', 'total_minutes', g % 60, 'tag', 't' || (g % 100))
      ELSE jsonb_build_object('event', ev, 'session_id', sid, 'feedback', jsonb_build_object('rating', g % 5 + 1, 'comment', 'comment ' || g),
                              'tag', 't' || (g % 100)) END,
    CASE WHEN g % 3 = 0 THEN 'timestamped' ELSE 'signature' END,
    st, CASE WHEN st = 'failed' THEN 3 WHEN g % 50 = 0 THEN 2 WHEN st = 'received' THEN 0 ELSE 1 END,
    CASE WHEN st = 'failed' THEN 'transcript host answered 404' WHEN g % 50 = 0 THEN 'timeout' END,
    at, CASE WHEN st IN ('processed', 'ignored') THEN at + interval '2 seconds' END, at + interval '2 seconds'
  FROM (
    SELECT g, 'sess-' || (g / 2) AS sid,
      CASE WHEN g % 100 = 7 THEN 'session.started' WHEN g % 2 = 0 THEN 'interview.completed' ELSE 'session.feedback_submitted' END AS ev,
      CASE WHEN g % 100 = 7 THEN 'ignored' WHEN g % 67 = 3 THEN 'failed' WHEN g > $1::int - 300 AND g % 3 = 0 THEN 'received'
           WHEN g > $1::int - 300 AND g % 3 = 1 THEN 'processing' ELSE 'processed' END AS st,
      date_trunc('second', now()) - interval '30 days' + ((g / 3) * interval '30 days' / ($1::int / 3)) AS at
    FROM generate_series(1, $1::int) g
  ) s`;

describe(`the events console's listing over ${ROWS.toLocaleString('en-US')} inbox rows`, () => {
  let db: TestDatabase;
  let ds: DataSource;
  let repo: InboxConsoleRepository;

  beforeAll(async () => {
    db = await createTestDatabase();
    ds = new DataSource({ type: 'postgres', url: db.url, migrations, migrationsTransactionMode: 'each' });
    await ds.initialize();
    await ds.runMigrations();
    const started = Date.now();
    await ds.query(FILL, [ROWS]);
    await ds.query('VACUUM ANALYZE webhook_events');
    await ds.query('VACUUM ANALYZE webhook_events_open');
    if (MEASURE)
      console.log(`inserted ${ROWS.toLocaleString('en-US')} rows with generate_series in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    repo = new InboxConsoleRepository(ds);
  }, 30 * 60_000);

  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });

  /** The same rows by plain SQL: the inbox alone, no open table, no scan limit. */
  async function expected(filter: InboxFilter, order: 'newest' | 'oldest'): Promise<string[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, v: unknown) => where.push(sql.replace('?', `$${params.push(v)}`));
    if (filter.status) add('status = ?', filter.status);
    if (filter.event) add('event = ?', filter.event);
    if (filter.sessionId) add('session_id = ?', filter.sessionId);
    if (filter.from) add('received_at >= ?::timestamptz', filter.from);
    if (filter.to) add('received_at < ?::timestamptz', filter.to);
    if (filter.attemptsMin !== undefined) add('attempts >= ?', filter.attemptsMin);
    if (filter.attemptsMax !== undefined) add('attempts <= ?', filter.attemptsMax);
    if (filter.payload) add('payload @> ?::jsonb', filter.payload);
    const dir = order === 'newest' ? 'DESC' : 'ASC';
    const rows: Array<{ id: string }> = await ds.query(
      `SELECT id FROM webhook_events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY received_at ${dir}, id ${dir}`,
      params,
    );
    return rows.map((r) => r.id);
  }

  /** Every page after the other, as the console's "Next page" and "Search further" links go. */
  async function walk(filter: InboxFilter, opts: Omit<BrowseOptions, 'after'>) {
    const ids: string[] = [];
    let after: InboxKey | undefined;
    let pages = 0;
    let early = 0;
    for (;;) {
      const page = await repo.browse(filter, { ...opts, after });
      pages++;
      expect(page.items.length).toBeLessThanOrEqual(opts.limit);
      if (page.searchedTo) early++;
      else if (page.next) expect(page.items).toHaveLength(opts.limit);
      ids.push(...page.items.map((r) => r.id));
      if (!page.next) break;
      // The next page starts from the cursor the link carries.
      after = page.next;
      expect(encodeCursor(after)).toMatch(/^[\w-]+$/);
      if (pages > ROWS) throw new Error('the walk does not end');
    }
    return { ids, pages, early };
  }

  const day = 86_400_000;
  const at = (daysAgo: number) => new Date(Date.now() - daysAgo * day).toISOString();
  const cases: Array<[string, InboxFilter]> = [
    ['no filter', {}],
    ['dead letters (the open table)', { status: 'failed' }],
    ['received (the open table)', { status: 'received' }],
    ['processing (the open table)', { status: 'processing' }],
    ['processed', { status: 'processed' }],
    ['ignored (sparse)', { status: 'ignored' }],
    ['an event type', { event: 'session.feedback_submitted' }],
    ['a session', { sessionId: 'sess-1000' }],
    ['a time range', { from: at(20), to: at(19.5) }],
    ['attempts', { attemptsMin: 2, attemptsMax: 2 }],
    ['a payload field (sparse)', { payload: '{"tag":"t42"}' }],
    ['dead letters of a type with a payload field', { status: 'failed', event: 'interview.completed', payload: '{"total_minutes":3}' }],
    [
      'all at once',
      { status: 'processed', event: 'interview.completed', from: at(25), to: at(5), attemptsMin: 1, payload: '{"tag":"t10"}' },
    ],
  ];

  if (!MEASURE) {
    it.each(cases)('lists %s: each matching row once, in order, newest or oldest first, across pages', async (_name, filter) => {
      for (const order of ['newest', 'oldest'] as const) {
        const want = await expected(filter, order);
        const got = await walk(filter, { order, limit: 19, scanLimit: 400 });
        expect(got.ids).toEqual(want);
        // A sparse filter's pages end early at the scan limit, and the walk still finds every row.
        if (want.length * 20 < ROWS && filter.sessionId === undefined && filter.status === undefined && filter.from === undefined)
          expect(got.early).toBeGreaterThan(0);
      }
    });

    it('keeps its place while new events arrive: a page started before them lists no row twice and skips none', async () => {
      const first = await repo.browse({}, { order: 'newest', limit: 50 });
      await ds.query(
        `INSERT INTO webhook_events (idempotency_key, event, session_id, payload, signature_scheme, received_at)
         SELECT 'late-' || g, 'interview.completed', 'late-' || g, '{}', 'signature', now() FROM generate_series(1, 20) g`,
      );
      const second = await repo.browse({}, { order: 'newest', limit: 50, after: first.next });
      const want = (await expected({}, 'newest')).filter((id) => !first.items.some((r) => r.id === id)).slice(20, 70);
      expect(second.items.map((r) => r.id)).toEqual(want);
      await ds.query(`DELETE FROM webhook_events WHERE session_id LIKE 'late-%'`);
    });

    it('counts per status exactly on an inbox of this size', async () => {
      const rows: Array<{ status: string; n: string }> = await ds.query(`SELECT status, count(*) AS n FROM webhook_events GROUP BY status`);
      const { counts, estimated } = await repo.statusCounts();
      expect(estimated).toEqual([]);
      for (const { status, n } of rows) expect(counts[status as keyof typeof counts]).toBe(Number(n));
    });

    it('replays exactly the dead letters a filter matches, oldest first, up to the limit', async () => {
      const filter: InboxFilter = { event: 'interview.completed', attemptsMin: 3 };
      const matching = await expected({ ...filter, status: 'failed' }, 'oldest');
      expect(matching.length).toBeGreaterThan(2);
      expect(await repo.countDeadLetters(filter, 1000)).toBe(matching.length);
      const recovery = new InboxRecoveryRepository(ds);
      const replayed = await recovery.reopenDeadLetters(filter, 2);
      // The two oldest (UPDATE … RETURNING gives them in no particular order).
      expect(replayed.map((r) => r.id).sort()).toEqual(matching.slice(0, 2).sort());
      const states: Array<{ id: string; status: string; attempts: number }> = await ds.query(
        `SELECT id, status, attempts FROM webhook_events WHERE id = ANY($1::uuid[])`,
        [matching],
      );
      for (const row of states)
        expect(row).toMatchObject(matching.indexOf(row.id) < 2 ? { status: 'received', attempts: 0 } : { status: 'failed' });
      expect(await repo.countDeadLetters(filter, 1000)).toBe(matching.length - 2);
    });
  }

  if (MEASURE) {
    it(
      'pages stay fast: repository and HTTP latency per kind of page',
      async () => {
        const runs = 7;
        const time = async (fn: () => Promise<unknown>) => {
          await fn();
          const ms: number[] = [];
          for (let i = 0; i < runs; i++) {
            const t0 = process.hrtime.bigint();
            await fn();
            ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
          }
          ms.sort((a, b) => a - b);
          return { median: ms[Math.floor(runs / 2)], max: ms[runs - 1] };
        };
        const [deep]: Array<{ r: string; id: string }> = await ds.query(
          `SELECT to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS r, id::text FROM webhook_events
         ORDER BY received_at DESC, id DESC OFFSET $1 LIMIT 1`,
          [Math.floor(ROWS / 2)],
        );
        const lines: string[] = [];
        const report = (name: string, r: { median: number; max: number }, extra = '') => {
          lines.push(`| ${name} | ${r.median.toFixed(1)} | ${r.max.toFixed(1)} |${extra}`);
          return r;
        };
        const page =
          (filter: InboxFilter, opts: Partial<BrowseOptions> = {}) =>
          () =>
            repo.browse(filter, { order: 'newest', limit: 50, ...opts });
        for (const [name, filter] of cases) report(`first page, ${name}`, await time(page(filter)));
        report('oldest first, no filter', await time(page({}, { order: 'oldest' })));
        report(
          `page ${Math.floor(ROWS / 2).toLocaleString('en-US')} rows deep`,
          await time(page({}, { after: { receivedAt: deep.r, id: deep.id } })),
        );
        report(
          'a payload field matching one row (the scan stops at its limit)',
          await time(page({ payload: '{"invitee_email":"person500000@example.com"}' })),
        );
        report('counts per status', await time(() => repo.statusCounts()));
        report('overview', await time(() => repo.overview()));
        report('dead letters matching a filter, counted', await time(() => repo.countDeadLetters({ event: 'interview.completed' }, 1000)));

        // The page an operator waits for: HTML, counts and all, through HTTP.
        // The api role: no worker processing the rows in flight while the pages are timed.
        const t: RunningService = await startService({ DATABASE_URL: db.url, ADMIN_TOKEN, APP_ROLE: 'api', LOG_LEVEL: 'error' });
        try {
          const get = (path: string) => async () => {
            const res = await fetch(`${t.baseUrl}${path}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
            expect(res.status).toBe(200);
            await res.text();
          };
          const deepCursor = encodeCursor({ receivedAt: deep.r, id: deep.id });
          report('HTTP: the events page', await time(get('/admin/console/events')));
          report('HTTP: the events page, deep', await time(get(`/admin/console/events?cursor=${deepCursor}`)));
          report('HTTP: dead letters', await time(get('/admin/console/events?status=failed')));
          report('HTTP: a session', await time(get('/admin/console/events?session_id=sess-250000')));
          report(
            `HTTP: a payload field matching one row`,
            await time(get(`/admin/console/events?payload=${encodeURIComponent('{"tag":"t42","total_minutes":7}')}`)),
          );
        } finally {
          await t.stop();
        }
        console.log(
          `${ROWS.toLocaleString('en-US')} inbox rows, ${runs} runs each (ms)\n| page | median | max |\n|---|---|---|\n${lines.join('\n')}`,
        );
      },
      10 * 60_000,
    );
  }
});
