import { createTestDatabase, deliver, RunningService, startService, TestDatabase, waitFor } from './helpers/service.js';

/**
 * A named statement's plan is made once per connection and kept until the table's statistics change
 * (never, on a server without autovacuum; a minute or two on one with it). Planned while a new inbox
 * held a few rows, the worker's claims and outcomes scanned the whole inbox at every event from then
 * on; their connections now rule sequential scans out (SqlStatements).
 */
describe('the worker’s statements on an inbox that grew after they were planned', () => {
  let db: TestDatabase;
  let t: RunningService;

  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startService({ DATABASE_URL: db.url });
  }, 60_000);

  afterAll(async () => {
    await t?.stop();
    await db?.drop();
  });

  const feedback = (sessionId: string) => ({
    event: 'session.feedback_submitted',
    session_id: sessionId,
    timestamp: '2026-12-02T10:00:00Z',
    feedback: { rating: 4 },
  });

  /** Delivers one event and waits for its feedback row: each claim and outcome a statement of its own. */
  async function processOne(sessionId: string): Promise<void> {
    expect((await deliver(t.baseUrl, feedback(sessionId))).status).toBe(200);
    await waitFor(async () => (await db.query('SELECT 1 FROM feedback WHERE session_id = $1', [sessionId])).length > 0);
  }

  const inboxStats = async () =>
    (
      await db.query(
        `SELECT seq_tup_read::int AS "seqRead", n_tup_upd::int AS updates FROM pg_stat_user_tables WHERE relname = 'webhook_events'`,
      )
    )[0] as { seqRead: number; updates: number };

  it('look rows up by key, not by reading the inbox', async () => {
    // More than five executions on a few rows: PostgreSQL's generic plan is made and kept now.
    for (let i = 0; i < 8; i++) await processOne(`plan-small-${i}`);

    // The inbox grows: months of processed deliveries.
    const grown = 20_000;
    await db.query(
      `INSERT INTO webhook_events (idempotency_key, event, session_id, payload, signature_scheme, status, processed_at)
       SELECT 'old-' || g, 'session.feedback_submitted', 'old-' || g, '{}', 'signature', 'processed', now()
       FROM generate_series(1, $1::int) g`,
      [grown],
    );
    for (let i = 0; i < 8; i++) await processOne(`plan-grown-${i}`);

    // A claim and an outcome per event (16 events); the service's statistics reach the shared
    // counters within seconds, those of their scans with their updates.
    const stats = await waitFor(async () => {
      const s = await inboxStats();
      return s.updates >= 32 ? s : undefined;
    });
    // Each scan of the grown inbox would read all of it; the readiness probe's `LIMIT 1` reads a row.
    expect(stats.seqRead).toBeLessThan(grown);
  });
});
