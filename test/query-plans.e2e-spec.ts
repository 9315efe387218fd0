import { STALE_ROWS_SQL } from '../src/inbox/recovery.repository.js';
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

  interface PlanNode {
    'Node Type': string;
    'Relation Name'?: string;
    'Index Name'?: string;
    'Shared Hit Blocks'?: number;
    'Shared Read Blocks'?: number;
    Plans?: PlanNode[];
  }

  /** EXPLAIN ANALYZE of one sweeper query: its plan, the buffers it touched, its time. */
  async function explainSweep(status: 'received' | 'processing') {
    const [row] = await db.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode; 'Execution Time': number }> }>(
      `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${STALE_ROWS_SQL}`,
      [status, 0, '-infinity', '00000000-0000-0000-0000-000000000000', 500],
    );
    const [{ Plan: plan, 'Execution Time': ms }] = row['QUERY PLAN'];
    const nodes: PlanNode[] = [];
    const walk = (n: PlanNode) => {
      nodes.push(n);
      for (const child of n.Plans ?? []) walk(child);
    };
    walk(plan);
    const blocks = (n: PlanNode) => (n['Shared Hit Blocks'] ?? 0) + (n['Shared Read Blocks'] ?? 0);
    // Buffers are cumulative up the tree: the open table's part is its topmost node's.
    const openTable = nodes.find(
      (n) => n['Relation Name'] === 'webhook_events_open' || n['Index Name']?.startsWith('ix_webhook_events_open'),
    );
    const text = nodes.map(
      (n) =>
        `${n['Node Type']}${n['Index Name'] ? ` using ${n['Index Name']}` : ''}${n['Relation Name'] ? ` on ${n['Relation Name']}` : ''}`,
    );
    return { ms, buffers: blocks(plan), openTableBuffers: openTable ? blocks(openTable) : NaN, text };
  }

  it('a sweeper pass reads no dead letter: the same with 0 and with 150,000 of them', async () => {
    // A few rows in flight, as in any busy minute.
    await db.query(
      `INSERT INTO webhook_events (idempotency_key, event, session_id, payload, signature_scheme, status, received_at, updated_at)
       SELECT 'flight-' || g, 'session.feedback_submitted', 'flight-' || g, '{}', 'signature',
              CASE WHEN g % 2 = 0 THEN 'processing' ELSE 'received' END, now() - interval '1 hour', now() - interval '1 hour'
       FROM generate_series(1, 20) g`,
    );
    const before = { received: await explainSweep('received'), processing: await explainSweep('processing') };
    await db.query(
      `INSERT INTO webhook_events (idempotency_key, event, session_id, payload, signature_scheme, status, last_error)
       SELECT 'dead-' || g, 'interview.completed', 'dead-' || g, '{}', 'signature', 'failed', 'transcript host answered 404'
       FROM generate_series(1, 150000) g`,
    );
    const after = { received: await explainSweep('received'), processing: await explainSweep('processing') };
    for (const status of ['received', 'processing'] as const) {
      console.log(
        `sweeper query for '${status}' rows: ${before[status].ms.toFixed(2)} ms, ${before[status].buffers} buffers with 0 dead letters; ` +
          `${after[status].ms.toFixed(2)} ms, ${after[status].buffers} buffers with 150,000\n  plan: ${after[status].text.join(' > ')}`,
      );
      // The open ids come from the partial index that holds no dead letter: the same pages with
      // 150,000 of them. (The inbox's primary key, one level deeper now, costs a buffer per row looked up.)
      expect(after[status].text.join(' ')).toMatch(/ix_webhook_events_open_unfinished/);
      expect(after[status].openTableBuffers).toBeLessThanOrEqual(before[status].openTableBuffers + 2);
      expect(after[status].buffers).toBeLessThan(2 * before[status].buffers);
    }
  }, 120_000);
});
